namespace Orchestration.Grains.Tasks;

/// <summary>Who holds a task and until when (renewed by progress).</summary>
public sealed record TaskLease(string AgentId, DateTimeOffset ExpiresAt);
