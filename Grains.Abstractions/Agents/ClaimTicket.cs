namespace Orchestration.Grains.Agents;

/// <summary>
/// What the task queue needs to know about an agent before it hands it a task, and the slot kept for that claim: the
/// queue ends every ticket with <see cref="IAgentGrain.TaskClaimedAsync"/> or <see cref="IAgentGrain.ClaimEndedAsync"/>.
/// </summary>
/// <param name="Capabilities">The agent's capabilities.</param>
/// <param name="FreeSlots">How many more leases it may hold now, this claim's slot included (at least 1, or the claim was refused).</param>
/// <param name="Reservation">The slot kept for this claim until it ends; pass it back to renew it while a claim waits.</param>
public sealed record ClaimTicket(IReadOnlyList<string> Capabilities, int FreeSlots, long Reservation);
