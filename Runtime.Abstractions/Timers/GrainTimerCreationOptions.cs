namespace Orchestration.Runtime.Timers;

/// <summary>How a grain timer ticks.</summary>
public sealed record GrainTimerCreationOptions
{
    /// <summary>Time until the first tick.</summary>
    public required TimeSpan DueTime { get; init; }

    /// <summary>Time between ticks, measured from the end of the previous callback; <see cref="Timeout.InfiniteTimeSpan"/> for one tick.</summary>
    public required TimeSpan Period { get; init; }

    /// <summary>Whether ticks may interleave with calls. Default <c>false</c>: a tick is a turn like any call.</summary>
    public bool Interleave { get; init; }

    /// <summary>Whether a tick keeps the activation from idle collection. Default <c>false</c>.</summary>
    public bool KeepAlive { get; init; }
}
