namespace Orchestration.Grains.Agents;

/// <summary>The answer to a heartbeat.</summary>
/// <param name="Status">The agent's status after it.</param>
/// <param name="NextHeartbeatDueAt">When the next heartbeat is expected (the agent goes offline a window after the last one).</param>
public sealed record HeartbeatResult(AgentStatus Status, DateTimeOffset NextHeartbeatDueAt);
