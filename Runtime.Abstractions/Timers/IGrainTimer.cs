namespace Orchestration.Runtime.Timers;

/// <summary>A non-durable timer owned by one activation. Disposing it stops further ticks.</summary>
public interface IGrainTimer : IDisposable
{
    /// <summary>
    /// Changes when the next tick happens and the period after it. Made while a tick of this timer is queued or running
    /// (from its callback, or from a call), it takes effect when that tick ends, the due time counting from then: ticks
    /// of one timer never overlap, even interleaving ones.
    /// </summary>
    void Change(TimeSpan dueTime, TimeSpan period);
}
