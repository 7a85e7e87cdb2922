using System.Text.Json;
using Orchestration.Grains.Events;
using Orchestration.Runtime;

namespace Orchestration.Grains.Tasks;

/// <summary>
/// One task (key: <c>{orgId}/{taskId}</c>). Projected to the <c>tasks</c> collection (status, owner = lease holder,
/// group = workflow). Its lease expiry and retry back-off are durable reminders. Illegal transitions are
/// <see cref="ProblemCodes.InvalidTransition"/> naming the current status.
/// </summary>
public interface ITaskGrain : IGrainWithStringKey
{
    /// <summary>Creates the task (<c>ready</c>, or <c>blocked</c> until its dependencies complete).</summary>
    Task<TaskView> CreateAsync(CreateTask request, EventActor actor);

    /// <summary>
    /// Whether the task exists: created, and its dependencies told of it. Interleaving: it never waits for a turn of
    /// the task, so a task being created can ask it of its dependencies whatever they are doing (two tasks created at
    /// once, each depending on the other, would otherwise wait on each other).
    /// </summary>
    [AlwaysInterleave]
    Task<bool> ExistsAsync();

    /// <summary>The task; <see cref="ProblemCodes.NotFound"/> when it does not exist.</summary>
    Task<TaskView> GetAsync();

    /// <summary>
    /// Leases a ready task to <paramref name="agentId"/> (attempt + 1). <see cref="ProblemCodes.TaskNotClaimable"/> when it
    /// is not ready or the agent lacks a required capability. Called by the task queue. <paramref name="claimToken"/>
    /// (<see cref="ClaimTask.ClaimToken"/>) is kept with the lease.
    /// </summary>
    Task<TaskView> ClaimAsync(string agentId, IReadOnlyList<string> agentCapabilities, string? claimToken);

    /// <summary>
    /// The task, if <paramref name="agentId"/> holds its lease under <paramref name="claimToken"/>; otherwise <c>null</c>.
    /// Lets a claim run again after a crash find the lease its earlier run took.
    /// </summary>
    Task<TaskView?> HeldUnderClaimAsync(string agentId, string claimToken);

    /// <summary>Records progress and renews the lease; the first progress makes the task <c>running</c>.</summary>
    Task<TaskView> ReportProgressAsync(LeaseHolderCall caller, int? percent, string? message);

    /// <summary>Completes the task and releases dependents whose dependencies are all complete.</summary>
    Task<TaskView> CompleteAsync(LeaseHolderCall caller, JsonElement? output);

    /// <summary>
    /// Fails the attempt: retried after an exponential back-off with jitter when <paramref name="retryable"/> and attempts
    /// remain, otherwise dead-lettered.
    /// </summary>
    Task<TaskView> FailAsync(LeaseHolderCall caller, string error, bool retryable);

    /// <summary>Gives the task back to the queue; the attempt does not count against the maximum.</summary>
    Task<TaskView> ReleaseAsync(LeaseHolderCall caller);

    /// <summary>Cancels a task that has not finished.</summary>
    Task<TaskView> CancelAsync(string? reason, EventActor actor);

    /// <summary>
    /// Takes the lease back because its holder went offline or deregistered: as a lease expiry, the attempt counts.
    /// Ignored unless <paramref name="agentId"/> holds attempt <paramref name="attempt"/> (<c>null</c>: any attempt).
    /// </summary>
    Task RevokeLeaseAsync(string agentId, int? attempt);

    /// <summary>
    /// Registers <paramref name="dependentId"/> to be told when this task finishes, and returns this task's status now
    /// (<see cref="ProblemCodes.NotFound"/> when this task does not exist).
    /// </summary>
    Task<TaskLifecycleStatus> AddDependentAsync(string dependentId);

    /// <summary>Tells a blocked task that one of its dependencies reached a final status. Repeats are harmless.</summary>
    Task DependencyFinishedAsync(string dependencyId, TaskLifecycleStatus status);
}
