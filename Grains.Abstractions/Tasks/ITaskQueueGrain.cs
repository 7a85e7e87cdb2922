using Orchestration.Runtime;

namespace Orchestration.Grains.Tasks;

/// <summary>
/// The claim path of one organisation (key: its id). It keeps an in-memory index of ready tasks, rebuilt from the
/// <c>tasks</c> projection on activation and resynchronised periodically; the task grains stay the only record.
/// </summary>
public interface ITaskQueueGrain : IGrainWithStringKey
{
    /// <summary>
    /// Claims for an agent: capability match, then highest priority, then oldest. Waits up to
    /// <see cref="ClaimTask.Wait"/> for a match; <c>null</c> when none came. <see cref="ProblemCodes.AgentNotAvailable"/>
    /// when the agent may not claim; for a named task, <see cref="ProblemCodes.TaskNotClaimable"/> when it is not claimable.
    /// </summary>
    Task<TaskView?> ClaimAsync(ClaimTask request);

    /// <summary>Offers a task that became ready (repeats are harmless).</summary>
    /// <remarks>
    /// Interleaving (the grain is reentrant anyway) so that it is counted apart from claims: claims waiting inside the
    /// grain, up to the silo's hard limit of calls per activation, never lock out the offers that would end them.
    /// </remarks>
    [AlwaysInterleave]
    Task TaskReadyAsync(ReadyTask task);

    /// <summary>
    /// The name of the queue's live activation, as it gives it in <see cref="Agents.IAgentGrain.PrepareClaimAsync"/>: an agent
    /// asked by an activation it has not seen asks this, so a turn of an activation that lost the grain cannot pass for
    /// the live one.
    /// </summary>
    /// <remarks>Interleaving, like <see cref="TaskReadyAsync"/>: asked while the live activation's claim waits for the agent.</remarks>
    [AlwaysInterleave]
    Task<string> ActivationAsync();

    /// <summary>Withdraws a task that is no longer ready (unknown ids are ignored).</summary>
    /// <remarks>Interleaving, like <see cref="TaskReadyAsync"/>, so waiting claims never lock it out.</remarks>
    [AlwaysInterleave]
    Task TaskWithdrawnAsync(string taskId);
}
