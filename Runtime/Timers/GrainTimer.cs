using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Activations;
using Orchestration.Runtime.Calls;

namespace Orchestration.Runtime.Timers;

/// <summary>
/// A timer of one activation. Each tick is queued as a message, so it is a turn like any call; the next tick is armed
/// only after the callback finishes, so ticks never overlap. A tick never times out (nobody waits for it) and dies with
/// its activation: ticks queued on an activation that is leaving are dropped, never run by a successor.
/// </summary>
internal sealed partial class GrainTimer : IGrainTimer
{
    private readonly ActivationData _activation;
    private readonly GrainMethod _tick;
    private readonly ITimer _timer;
    private readonly TimeSpan _dueTime;
    private TimeSpan _period;
    private volatile bool _disposed;

    // Bumped by every Change; a tick re-arms only if no Change happened since it was queued, so a Change made while a
    // tick waits or from inside the callback is never overwritten by the tick's own re-arming.
    private int _schedule;
    private int _scheduleOfQueuedTick;

    public GrainTimer(ActivationData activation, Func<CancellationToken, Task> callback, GrainTimerCreationOptions options)
    {
        _activation = activation;
        _period = options.Period;
        _dueTime = options.DueTime;
        _tick = GrainMethod.ForCallback("timer", options.Interleave, options.KeepAlive, async (_, _) =>
        {
            if (_disposed)
            {
                return;
            }

            var schedule = Volatile.Read(ref _scheduleOfQueuedTick);
            try
            {
                await callback(activation.Runtime.ShutdownToken);
            }
            catch (Exception exception)
            {
                LogTickFailed(activation.Runtime.Logger, activation.GrainId, exception);
            }

            // Re-armed inside the tick's turn, so the period counts from the callback's end and a call queued behind
            // the tick always sees the timer armed again.
            if (schedule == Volatile.Read(ref _schedule))
            {
                Rearm();
            }
        });
        _timer = activation.Runtime.TimeProvider.CreateTimer(static state => ((GrainTimer)state!).OnDue(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public void Start() => _timer.Change(_dueTime, Timeout.InfiniteTimeSpan);

    public void Change(TimeSpan dueTime, TimeSpan period)
    {
        Interlocked.Increment(ref _schedule);
        _period = period;
        _timer.Change(dueTime, Timeout.InfiniteTimeSpan);
    }

    private void OnDue()
    {
        if (_disposed)
        {
            return;
        }

        Volatile.Write(ref _scheduleOfQueuedTick, Volatile.Read(ref _schedule));
        _activation.TryEnqueue(new GrainMessage<object?>(_tick, [], _activation.Runtime.TimeProvider.GetTimestamp()));
    }

    private void Rearm()
    {
        if (!_disposed && _period != Timeout.InfiniteTimeSpan)
        {
            _timer.Change(_period, Timeout.InfiniteTimeSpan);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _timer.Dispose();
        _activation.RemoveTimer(this);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A timer callback of grain {GrainId} failed; the timer keeps running")]
    private static partial void LogTickFailed(ILogger logger, GrainId grainId, Exception exception);
}
