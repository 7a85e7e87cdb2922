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
    private readonly Lock _gate = new();
    private volatile bool _disposed;

    // Guarded by _gate. While a tick is in flight (queued or running) the underlying timer stays disarmed: an interleaving
    // tick, or any tick of a reentrant grain, would otherwise start beside the running one. A Change made meanwhile
    // (from the callback or from a call) is kept in _changedDueTime and armed when the tick ends, counting from then,
    // as a period does; it also replaces the tick's own re-arming.
    private TimeSpan _period;
    private bool _inFlight;
    private TimeSpan? _changedDueTime;
    private bool _dueWhileInFlight;

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

            try
            {
                await callback(activation.Runtime.ShutdownToken);
            }
            catch (Exception exception)
            {
                LogTickFailed(activation.Runtime.Logger, activation.GrainId, exception);
            }

            // Armed inside the tick's turn, so the period counts from the callback's end and a call queued behind the
            // tick always sees the timer armed again.
            TickEnded();
        });
        _timer = activation.Runtime.TimeProvider.CreateTimer(static state => ((GrainTimer)state!).OnDue(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public void Start() => _timer.Change(_dueTime, Timeout.InfiniteTimeSpan);

    public void Change(TimeSpan dueTime, TimeSpan period)
    {
        lock (_gate)
        {
            _period = period;
            if (_inFlight)
            {
                _changedDueTime = dueTime;
                return;
            }

            _timer.Change(dueTime, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnDue()
    {
        if (_disposed)
        {
            return;
        }

        lock (_gate)
        {
            if (_inFlight)
            {
                // Armed by a Change just before the previous due moment queued its tick: run it once that tick ends.
                _dueWhileInFlight = true;
                return;
            }

            _inFlight = true;
        }

        _activation.TryEnqueue(new GrainMessage<object?>(_tick, [], _activation.Runtime.TimeProvider.GetTimestamp()));
    }

    private void TickEnded()
    {
        lock (_gate)
        {
            _inFlight = false;
            var dueTime = _changedDueTime ?? (_dueWhileInFlight ? TimeSpan.Zero : _period);
            _changedDueTime = null;
            _dueWhileInFlight = false;
            if (!_disposed && dueTime != Timeout.InfiniteTimeSpan)
            {
                _timer.Change(dueTime, Timeout.InfiniteTimeSpan);
            }
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
