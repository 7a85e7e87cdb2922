namespace Orchestration.Silo.Grains;

/// <summary>
/// When a failed task is retried: exponential back-off from <see cref="TaskRetryOptions.BaseDelay"/>, doubled per
/// counted attempt and capped at <see cref="MaxDelay"/>, with "equal jitter" (a random point in the upper half) so that
/// tasks failing together do not come back together.
/// </summary>
internal static class TaskRetryPolicy
{
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The delay before the retry that follows the <paramref name="countedAttempts"/>-th counted attempt (≥ 1), for
    /// <paramref name="random"/> in [0, 1).
    /// </summary>
    public static TimeSpan DelayAfter(int countedAttempts, double random, TimeSpan baseDelay)
    {
        var exponent = Math.Clamp(countedAttempts - 1, 0, 30);
        var ceiling = Math.Min(baseDelay.TotalMilliseconds * Math.Pow(2, exponent), MaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(ceiling / 2 + ceiling / 2 * random);
    }
}
