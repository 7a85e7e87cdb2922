namespace Orchestration.Grains.Tasks;

/// <summary>
/// Identifies the caller of a lease holder's operation: the agent, and the attempt it was given as its fencing token
/// (<c>null</c>: the current attempt). A call for another agent or another attempt is <see cref="ProblemCodes.NotLeaseHolder"/>.
/// </summary>
public sealed record LeaseHolderCall(string AgentId, int? Attempt);
