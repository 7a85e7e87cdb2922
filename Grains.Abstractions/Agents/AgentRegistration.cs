namespace Orchestration.Grains.Agents;

/// <summary>The outcome of a registration: the agent, and whether this call created it (201) or updated it (200).</summary>
public sealed record AgentRegistration(AgentView Agent, bool Created);
