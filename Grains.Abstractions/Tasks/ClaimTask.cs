namespace Orchestration.Grains.Tasks;

/// <summary>A claim: the next matching task, or one named task.</summary>
/// <param name="AgentId">The claiming agent.</param>
/// <param name="TaskId">A specific task to claim; <c>null</c> for the best match.</param>
/// <param name="Wait">How long to wait for a match (0–30 s) when none is ready.</param>
public sealed record ClaimTask(string AgentId, string? TaskId, TimeSpan Wait)
{
    /// <summary>
    /// Names this claim across the runs of one HTTP request (the id its <c>Idempotency-Key</c> reserved); kept with the
    /// lease the claim gets.
    /// </summary>
    public string? ClaimToken { get; init; }

    /// <summary>
    /// This run repeats a request whose earlier run was never answered (its process crashed): a task the agent holds
    /// under <see cref="ClaimToken"/> is that run's claim, and is this claim's answer, rather than a second task.
    /// </summary>
    public bool IsRerun { get; init; }
}
