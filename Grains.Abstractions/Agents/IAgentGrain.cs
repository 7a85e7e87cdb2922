using Orchestration.Grains.Events;
using Orchestration.Runtime;

namespace Orchestration.Grains.Agents;

/// <summary>
/// One agent (key: <c>{orgId}/{agentId}</c>). Projected to the <c>agents</c> collection. A durable reminder declares it
/// offline when its heartbeat window passes, which releases every task lease it holds.
/// </summary>
public interface IAgentGrain : IGrainWithStringKey
{
    /// <summary>Registers the agent, or updates it when registered; counts as a heartbeat.</summary>
    Task<AgentRegistration> RegisterAsync(RegisterAgent request, EventActor actor);

    /// <summary>Records a heartbeat; brings an offline agent back online. <see cref="ProblemCodes.NotFound"/> when unknown.</summary>
    Task<HeartbeatResult> HeartbeatAsync();

    /// <summary>The agent; <see cref="ProblemCodes.NotFound"/> when unknown or deregistered.</summary>
    Task<AgentView> GetAsync();

    /// <summary>Pauses the agent: it keeps its leases but may claim nothing new.</summary>
    Task<AgentView> PauseAsync(EventActor actor);

    /// <summary>Resumes a paused agent.</summary>
    Task<AgentView> ResumeAsync(EventActor actor);

    /// <summary>Deregisters the agent and releases its leases (each attempt counts).</summary>
    Task DeregisterAsync(EventActor actor);

    /// <summary>
    /// Checks that the agent may claim a task now and keeps a slot for the claim, so that concurrent claims of one agent
    /// cannot together exceed its limit; <see cref="ProblemCodes.AgentNotAvailable"/> when it is paused, offline or every
    /// slot is held or kept. With <paramref name="reservation"/> (a waiting claim looking again) that slot is renewed, not
    /// counted twice. A slot not ended within <c>AgentGrain.ClaimReservationLifetime</c> of its last renewal lapses, so a
    /// lost message cannot keep it forever. <paramref name="queueActivation"/> names the activation of the organisation's
    /// queue that claims (a new name per activation): a new one, once the queue confirms it is the live one, frees the
    /// slots the one before kept, which lost the grain and will not end them, and has the agent read back the tasks it
    /// holds (that one may have leased a task and died before saying so); a replaced one, or one the queue does not
    /// confirm, is refused (<see cref="ProblemCodes.AgentNotAvailable"/>).
    /// </summary>
    Task<ClaimTicket> PrepareClaimAsync(long? reservation, string queueActivation);

    /// <summary>
    /// Records that the agent now holds the lease of <paramref name="taskId"/>'s <paramref name="attempt"/>, claimed with
    /// <paramref name="reservation"/> (0: a claim that kept no slot, a re-run answered with its first run's lease). Sent
    /// by the queue, while the task sends <see cref="TaskEndedAsync"/>: the two may arrive in either order, and the
    /// attempt pairs them.
    /// </summary>
    Task TaskClaimedAsync(string taskId, int attempt, long reservation);

    /// <summary>
    /// Frees the slot of a claim that got no task: nothing matched, or it failed. <paramref name="outcomeUnknown"/>: it
    /// failed in a way that may have left a lease committed all the same (a task's claim that timed out), so the agent
    /// reads back the tasks it holds before its next claim.
    /// </summary>
    Task ClaimEndedAsync(long reservation, bool outcomeUnknown);

    /// <summary>
    /// Records that the agent no longer holds the lease of <paramref name="taskId"/>'s <paramref name="attempt"/>. An id the
    /// agent does not hold is kept for a while, in case the claim's notice is still on its way.
    /// </summary>
    Task TaskEndedAsync(string taskId, int attempt, TaskOutcome outcome);
}
