namespace Orchestration.Grains.Agents;

/// <summary>The answer to a heartbeat.</summary>
/// <param name="Status">The agent's status after it.</param>
/// <param name="NextHeartbeatDueAt">
/// When the next heartbeat is expected: one interval from now. The agent goes offline only a whole window (several
/// intervals) after its last heartbeat.
/// </param>
public sealed record HeartbeatResult(AgentStatus Status, DateTimeOffset NextHeartbeatDueAt);
