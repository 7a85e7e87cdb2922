namespace Orchestration.Runtime.Timers;

/// <summary>A non-durable timer owned by one activation. Disposing it stops further ticks.</summary>
public interface IGrainTimer : IDisposable
{
    /// <summary>Changes when the next tick happens and the period after it.</summary>
    void Change(TimeSpan dueTime, TimeSpan period);
}
