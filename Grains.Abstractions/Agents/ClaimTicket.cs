namespace Orchestration.Grains.Agents;

/// <summary>What the task queue needs to know about an agent before it hands it a task.</summary>
/// <param name="Capabilities">The agent's capabilities.</param>
/// <param name="FreeSlots">How many more leases it may hold now (at least 1, or the claim was refused).</param>
public sealed record ClaimTicket(IReadOnlyList<string> Capabilities, int FreeSlots);
