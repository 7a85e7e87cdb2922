namespace Orchestration.Silo.Grains;

/// <summary>The retry back-off of failed tasks, bound from the <c>TaskRetry</c> configuration section.</summary>
internal sealed class TaskRetryOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "TaskRetry";

    /// <summary>
    /// The back-off after the first counted attempt, before jitter; doubled per further attempt up to
    /// <see cref="TaskRetryPolicy.MaxDelay"/>. Default: 1 s.
    /// </summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(1);
}
