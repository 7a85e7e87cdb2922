namespace Orchestration.Grains.Tasks;

/// <summary>A claim: the next matching task, or one named task.</summary>
/// <param name="AgentId">The claiming agent.</param>
/// <param name="TaskId">A specific task to claim; <c>null</c> for the best match.</param>
/// <param name="Wait">How long to wait for a match (0–30 s) when none is ready.</param>
public sealed record ClaimTask(string AgentId, string? TaskId, TimeSpan Wait);
