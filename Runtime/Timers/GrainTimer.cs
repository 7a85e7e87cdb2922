using Orchestration.Runtime.Core;

namespace Orchestration.Runtime.Timers;

/// <summary>
/// A timer of one activation. Each tick is queued as a message, so it is a turn like any call; the next tick is armed
/// only after the callback finishes, so ticks never overlap.
/// </summary>
internal sealed class GrainTimer : IGrainTimer
{
    private readonly ActivationData _activation;
    private readonly GrainMethod _tick;
    private readonly ITimer _timer;
    private TimeSpan _period;
    private volatile bool _disposed;

    public GrainTimer(ActivationData activation, Func<CancellationToken, Task> callback, GrainTimerCreationOptions options)
    {
        _activation = activation;
        _period = options.Period;
        _tick = GrainMethod.ForCallback("timer", options.Interleave, options.KeepAlive, async (_, _) =>
        {
            try
            {
                await callback(activation.Runtime.ShutdownToken);
            }
            finally
            {
                // Re-armed inside the tick's turn, so the period counts from the callback's end and a call queued
                // behind the tick always sees the timer armed again.
                Rearm();
            }
        });
        _timer = activation.Runtime.TimeProvider.CreateTimer(static state => ((GrainTimer)state!).OnDue(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        DueTime = options.DueTime;
    }

    private TimeSpan DueTime { get; set; }

    public void Start() => _timer.Change(DueTime, Timeout.InfiniteTimeSpan);

    public void Change(TimeSpan dueTime, TimeSpan period)
    {
        _period = period;
        _timer.Change(dueTime, Timeout.InfiniteTimeSpan);
    }

    private void OnDue()
    {
        if (_disposed)
        {
            return;
        }

        // False when the activation is gone, and its timers with it.
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
}
