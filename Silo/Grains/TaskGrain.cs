using System.Text.Json;
using Microsoft.Extensions.Options;
using Orchestration.Grains;
using Orchestration.Grains.Agents;
using Orchestration.Grains.Events;
using Orchestration.Grains.Tasks;
using Orchestration.Runtime;
using Orchestration.Runtime.Reminders;

namespace Orchestration.Silo.Grains;

/// <summary>
/// One task: the only record of its status and lease. Durability order: a reminder that must fire after a crash
/// (lease expiry, retry, telling dependents) is registered BEFORE the state write that needs it, in the same call, so it
/// commits in that write's transaction (ADR 5); a reminder that fires without cause finds nothing to do. So no acknowledged lease can outlive its expiry and no retry is forgotten.
/// </summary>
[GrainType("task")]
internal sealed partial class TaskGrain(
    [PersistentState("task")] IPersistentState<TaskState> task,
    TimeProvider timeProvider,
    IOptions<TaskRetryOptions> retryOptions,
    ILogger<TaskGrain> logger) : TenantGrain(timeProvider), ITaskGrain, IRemindable
{
    public const string CollectionName = "tasks";
    private const string LeaseReminder = "lease";
    private const string RetryReminder = "retry";
    private const string DependentsReminder = "dependents";

    // How long after a final status a crashed notification of dependents is retried.
    private static readonly TimeSpan s_dependentsSafetyNet = TimeSpan.FromSeconds(10);
    private static readonly EventActor s_system = new("system", "task-scheduler");

    // Whether this call's change has its updatedAt already (see RaiseAsync).
    private bool _stamped;

    protected override string Collection => CollectionName;

    private TaskState State => task.State;

    private bool IsLeased => State.Status is TaskLifecycleStatus.Claimed or TaskLifecycleStatus.Running;

    private static bool IsFinal(TaskLifecycleStatus status) =>
        status is TaskLifecycleStatus.Completed or TaskLifecycleStatus.Cancelled or TaskLifecycleStatus.DeadLettered;

    public async Task<TaskView> CreateAsync(CreateTask request, EventActor actor)
    {
        if (State.Created)
        {
            return CreationTokens.Match(State.CreationToken, request.CreationToken, Id)
                ? View()
                : throw new OrchestrationException(ProblemCodes.AlreadyExists, $"Task '{Id}' already exists.");
        }

        Validate(request);
        var now = Clock.GetUtcNow();
        // The task exists only once its dependencies know of it: until then it answers ExistsAsync with false, so two
        // tasks created at once, each depending on the other, both fail at once instead of waiting on each other.
        var created = new TaskState
        {
            Created = true,
            CreationToken = request.CreationToken,
            Title = request.Title,
            Description = request.Description,
            Priority = request.Priority,
            RequiredCapabilities = [.. request.RequiredCapabilities.Distinct(StringComparer.Ordinal)],
            DependsOn = [.. request.DependsOn.Distinct(StringComparer.Ordinal)],
            Input = request.Input,
            MaxAttempts = request.MaxAttempts,
            LeaseSeconds = request.LeaseSeconds,
            WorkflowId = request.WorkflowId,
            CreatedAt = now,
            UpdatedAt = now,
            Status = TaskLifecycleStatus.Blocked,
        };

        // Every dependency is known to exist before any is told of this task, so a refused create leaves none of them
        // holding a dependent that never came to be. The question never waits for a dependency's turn.
        var exists = await Task.WhenAll(created.DependsOn.Select(dependency => TaskInOrg(dependency).ExistsAsync()));
        if (Array.IndexOf(exists, false) is var missing and >= 0)
        {
            throw new OrchestrationException(ProblemCodes.DependencyNotFound, $"Dependency '{created.DependsOn[missing]}' does not exist.");
        }

        foreach (var dependency in created.DependsOn)
        {
            var status = await TaskInOrg(dependency).AddDependentAsync(Id);
            if (IsFinal(status))
            {
                created.FinishedDependencies[dependency] = status;
            }
        }

        task.State = created;
        await RaiseAsync("task.created", actor);
        var ready = UnblockIfPossible();
        if (ready)
        {
            await RaiseAsync("task.ready", actor);
        }

        var view = await SaveAsync();
        if (ready)
        {
            await OfferToQueueAsync();
        }

        return view;
    }

    public Task<bool> ExistsAsync() => Task.FromResult(State.Created);

    public Task<TaskView> GetAsync()
    {
        EnsureCreated();
        return Task.FromResult(View());
    }

    public async Task<TaskView> ClaimAsync(string agentId, IReadOnlyList<string> agentCapabilities, string? claimToken)
    {
        EnsureCreated();
        if (State.Status != TaskLifecycleStatus.Ready)
        {
            throw new OrchestrationException(ProblemCodes.TaskNotClaimable, $"Task '{Id}' is {StatusName(State.Status)}, not ready.");
        }

        var missing = State.RequiredCapabilities.Except(agentCapabilities, StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
        {
            throw new OrchestrationException(ProblemCodes.TaskNotClaimable, $"Agent '{agentId}' lacks the capabilities {string.Join(", ", missing)} that task '{Id}' requires.");
        }

        var expiresAt = Clock.GetUtcNow() + TimeSpan.FromSeconds(State.LeaseSeconds);
        await RemindAtAsync(LeaseReminder, expiresAt);
        State.Status = TaskLifecycleStatus.Claimed;
        State.Attempt++;
        State.LeaseAgentId = agentId;
        State.LeaseClaimToken = claimToken;
        State.LeaseExpiresAt = expiresAt;
        State.Progress = null;
        State.NextAttemptAt = null;
        await RaiseAsync("task.claimed", new EventActor("agent", agentId));
        return await SaveAsync();
    }

    public Task<TaskView?> HeldUnderClaimAsync(string agentId, string claimToken) =>
        Task.FromResult(IsLeased && State.LeaseAgentId == agentId && State.LeaseClaimToken == claimToken ? View() : null);

    public async Task<TaskView> ReportProgressAsync(LeaseHolderCall caller, int? percent, string? message)
    {
        await CheckLeaseHolderAsync(caller);
        State.Status = TaskLifecycleStatus.Running;
        State.Progress = new TaskProgress(percent, message);
        State.LeaseExpiresAt = Clock.GetUtcNow() + TimeSpan.FromSeconds(State.LeaseSeconds);
        await RaiseAsync("task.progress", new EventActor("agent", caller.AgentId));
        return await SaveAsync();
    }

    public async Task<TaskView> CompleteAsync(LeaseHolderCall caller, JsonElement? output)
    {
        await CheckLeaseHolderAsync(caller);
        var agentId = State.LeaseAgentId!;
        State.Output = output;
        State.Error = null;
        var view = await FinishAsync(TaskLifecycleStatus.Completed, "task.completed", new EventActor("agent", caller.AgentId));
        TellAgent(agentId, TaskOutcome.Completed);
        return view;
    }

    public async Task<TaskView> FailAsync(LeaseHolderCall caller, string error, bool retryable)
    {
        await CheckLeaseHolderAsync(caller);
        var agentId = State.LeaseAgentId!;
        State.Error = error;
        var view = await LoseAttemptAsync("task.failed", retryable, new EventActor("agent", caller.AgentId));
        TellAgent(agentId, TaskOutcome.Failed);
        return view;
    }

    public async Task<TaskView> ReleaseAsync(LeaseHolderCall caller)
    {
        await CheckLeaseHolderAsync(caller);
        var agentId = State.LeaseAgentId!;
        await ClearLeaseAsync();
        State.Status = TaskLifecycleStatus.Ready;
        await RaiseAsync("task.released", new EventActor("agent", caller.AgentId));
        await RaiseAsync("task.ready", s_system);
        var view = await SaveAsync();
        await OfferToQueueAsync();
        TellAgent(agentId, TaskOutcome.Released);
        return view;
    }

    public async Task<TaskView> CancelAsync(string? reason, EventActor actor)
    {
        EnsureCreated();
        if (IsFinal(State.Status))
        {
            throw new OrchestrationException(ProblemCodes.InvalidTransition, $"Task '{Id}' is already {StatusName(State.Status)}.");
        }

        var holder = IsLeased ? State.LeaseAgentId : null;
        var wasReady = State.Status == TaskLifecycleStatus.Ready;
        State.Error = reason;
        var view = await FinishAsync(TaskLifecycleStatus.Cancelled, "task.cancelled", actor);
        if (wasReady)
        {
            await Queue.TaskWithdrawnAsync(Id);
        }

        if (holder is not null)
        {
            TellAgent(holder, TaskOutcome.Released);
        }

        return view;
    }

    public async Task RevokeLeaseAsync(string agentId, int? attempt)
    {
        if (!State.Created || !IsLeased || State.LeaseAgentId != agentId || (attempt is { } a && a != State.Attempt))
        {
            return;
        }

        // The agent asked (it went offline or deregistered) and has already forgotten the task: no TaskEnded back.
        await ExpireLeaseAsync(tellHolder: false);
    }

    public async Task<TaskLifecycleStatus> AddDependentAsync(string dependentId)
    {
        EnsureCreated();
        if (!State.Dependents.Contains(dependentId))
        {
            State.Dependents.Add(dependentId);
            await task.WriteStateAsync();
        }

        return State.Status;
    }

    public async Task DependencyFinishedAsync(string dependencyId, TaskLifecycleStatus status)
    {
        if (!State.Created || !State.DependsOn.Contains(dependencyId) || State.FinishedDependencies.GetValueOrDefault(dependencyId) == status)
        {
            return;
        }

        State.FinishedDependencies[dependencyId] = status;
        var ready = UnblockIfPossible();
        if (ready)
        {
            await RaiseAsync("task.ready", s_system);
        }

        await SaveAsync();
        if (ready)
        {
            await OfferToQueueAsync();
        }
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (!State.Created)
        {
            return;
        }

        var now = Clock.GetUtcNow();
        switch (reminderName)
        {
            case LeaseReminder when IsLeased && State.LeaseExpiresAt is { } expiresAt:
                if (!HasReached(now, expiresAt))
                {
                    // Progress renewed the lease since the reminder was set: wait for the new expiry.
                    await RemindAtAsync(LeaseReminder, expiresAt);
                    return;
                }

                await ExpireLeaseAsync(tellHolder: true);
                return;
            case RetryReminder when State.Status == TaskLifecycleStatus.Failed && State.NextAttemptAt is { } retryAt:
                if (!HasReached(now, retryAt))
                {
                    await RemindAtAsync(RetryReminder, retryAt);
                    return;
                }

                State.Status = TaskLifecycleStatus.Ready;
                State.NextAttemptAt = null;
                await RaiseAsync("task.ready", s_system);
                await SaveAsync();
                await OfferToQueueAsync();
                return;
            case DependentsReminder when IsFinal(State.Status):
                // This one-shot is deleted once the tick ends; registered again here, in the tick's call, the safety net
                // stays until the telling has told every dependent.
                await RegisterOrUpdateReminder(DependentsReminder, s_dependentsSafetyNet, TimeSpan.Zero);
                TellDependentsAfterThisTurn();
                return;
        }
    }

    private ITaskQueueGrain Queue => GrainFactory.GetGrain<ITaskQueueGrain>(OrgId);

    private ITaskGrain TaskInOrg(string id) => GrainFactory.GetGrain<ITaskGrain>(KeyInOrg(id));

    /// <summary>Ends the lease (expired, or revoked): the attempt counts, and the holder is told it lost the task if asked.</summary>
    private async Task ExpireLeaseAsync(bool tellHolder)
    {
        var holder = State.LeaseAgentId!;
        await RaiseAsync("task.lease_expired", s_system);
        await LoseAttemptAsync(eventType: null, retryable: true, s_system, retryAtOnce: true);
        if (tellHolder)
        {
            TellAgent(holder, TaskOutcome.Lost);
        }
    }

    /// <summary>
    /// Counts the current attempt as lost: dead-lettered when attempts are used up (or the failure is not retryable),
    /// otherwise ready again — at once after a lost lease, after a back-off after a failure.
    /// </summary>
    private async Task<TaskView> LoseAttemptAsync(string? eventType, bool retryable, EventActor actor, bool retryAtOnce = false)
    {
        await ClearLeaseAsync();
        State.CountedAttempts++;
        if (eventType is not null)
        {
            // The payload is the task as the failure left it: failed, no lease (what follows moves it on).
            State.Status = TaskLifecycleStatus.Failed;
            await RaiseAsync(eventType, actor);
        }

        if (!retryable || State.CountedAttempts >= State.MaxAttempts)
        {
            return await FinishAsync(TaskLifecycleStatus.DeadLettered, "task.dead_lettered", s_system);
        }

        if (retryAtOnce)
        {
            State.Status = TaskLifecycleStatus.Ready;
            await RaiseAsync("task.ready", s_system);
            var ready = await SaveAsync();
            await OfferToQueueAsync();
            return ready;
        }

        var delay = TaskRetryPolicy.DelayAfter(State.CountedAttempts, Random.Shared.NextDouble(), retryOptions.Value.BaseDelay);
        var retryAt = Clock.GetUtcNow() + delay;
        await RemindAtAsync(RetryReminder, retryAt);
        State.Status = TaskLifecycleStatus.Failed;
        State.NextAttemptAt = retryAt;
        await RaiseAsync("task.retry_scheduled", s_system);
        return await SaveAsync();
    }

    /// <summary>Moves to a final status and tells the dependents, with a reminder as the safety net for a crash.</summary>
    private async Task<TaskView> FinishAsync(TaskLifecycleStatus final, string eventType, EventActor actor)
    {
        if (State.Dependents.Count > 0)
        {
            await RegisterOrUpdateReminder(DependentsReminder, s_dependentsSafetyNet, TimeSpan.Zero);
        }

        await ClearLeaseAsync();
        State.Status = final;
        State.NextAttemptAt = null;
        await RaiseAsync(eventType, actor);
        var view = await SaveAsync();
        if (State.Dependents.Count > 0)
        {
            TellDependentsAfterThisTurn();
        }

        return view;
    }

    /// <summary>
    /// Tells every dependent of the final status, one after the other, in work this turn leaves running on the
    /// activation: the turn never waits for a dependent. A dependent may itself be waiting for a task that waits for
    /// this one (a create waiting for this task's <see cref="AddDependentAsync"/>, say), and a turn held for it would
    /// close that circle until the call timed out. Once all were told the reminder goes; if any could not be, it is
    /// registered again and the reminder's tick tries once more (repeats are harmless to dependents).
    /// </summary>
    private void TellDependentsAfterThisTurn() => _ = TellDependentsAsync();

    private async Task TellDependentsAsync()
    {
        try
        {
            // A snapshot: a dependent added meanwhile (between awaits) learns the status from AddDependentAsync's answer.
            foreach (var dependent in State.Dependents.ToList())
            {
                await TaskInOrg(dependent).DependencyFinishedAsync(Id, State.Status);
            }

            await UnregisterReminder(DependentsReminder);
        }
        catch (Exception exception)
        {
            LogTellingDependentsFailed(logger, Id, exception);
            try
            {
                await RegisterOrUpdateReminder(DependentsReminder, s_dependentsSafetyNet, TimeSpan.Zero);
            }
            catch (Exception again)
            {
                // The reminder registered with the final status (or by the tick that started this) is still there.
                LogTellingDependentsFailed(logger, Id, again);
            }
        }
    }

    private bool UnblockIfPossible()
    {
        if (State.Status != TaskLifecycleStatus.Blocked)
        {
            return false;
        }

        var stopped = State.FinishedDependencies.FirstOrDefault(pair => pair.Value != TaskLifecycleStatus.Completed);
        if (stopped.Key is not null)
        {
            State.BlockedReason = $"Dependency '{stopped.Key}' is {StatusName(stopped.Value)}.";
            return false;
        }

        if (State.DependsOn.All(State.FinishedDependencies.ContainsKey))
        {
            State.Status = TaskLifecycleStatus.Ready;
            State.BlockedReason = null;
            return true;
        }

        var waitingFor = State.DependsOn.Count(id => !State.FinishedDependencies.ContainsKey(id));
        State.BlockedReason = waitingFor == 1 ? "Waiting for 1 dependency." : $"Waiting for {waitingFor} dependencies.";
        return false;
    }

    private Task OfferToQueueAsync() =>
        Queue.TaskReadyAsync(new ReadyTask(Id, State.Priority, State.RequiredCapabilities, State.CreatedAt));

    /// <summary>
    /// Refuses a call from anyone but the current attempt's holder; a lease past its expiry is no longer held, even
    /// when its reminder is late (a failover, a busy silo): it ends here and now, as the reminder would have ended it.
    /// </summary>
    private async Task CheckLeaseHolderAsync(LeaseHolderCall caller)
    {
        EnsureCreated();
        if (IsLeased && State.LeaseExpiresAt is { } expiresAt && HasReached(Clock.GetUtcNow(), expiresAt))
        {
            await ExpireLeaseAsync(tellHolder: true);
        }

        if (!IsLeased || State.LeaseAgentId != caller.AgentId || (caller.Attempt is { } attempt && attempt != State.Attempt))
        {
            var held = IsLeased ? $"attempt {State.Attempt} is held by agent '{State.LeaseAgentId}'" : "nobody holds its lease";
            throw new OrchestrationException(ProblemCodes.NotLeaseHolder, $"Task '{Id}' is {StatusName(State.Status)} and {held}.");
        }
    }

    // Inside a call the unregistration joins the call's next write, so ending a lease costs no commit of its own and
    // leaves no reminder to wake the grain later for nothing.
    private Task ClearLeaseAsync()
    {
        State.LeaseAgentId = null;
        State.LeaseClaimToken = null;
        State.LeaseExpiresAt = null;
        return UnregisterReminder(LeaseReminder);
    }

    // Not awaited: a task never waits on an agent, because agents wait on tasks (going offline revokes leases).
    private void TellAgent(string agentId, TaskOutcome outcome) => OneWayCall.Forget(
        GrainFactory.GetGrain<IAgentGrain>(KeyInOrg(agentId)).TaskEndedAsync(Id, State.Attempt, outcome),
        logger,
        $"tell agent {agentId} that its lease of task {Id} ended");

    /// <summary>Raises a transition's event, whose payload is the task as changed, stamped with the change's moment.</summary>
    private Task RaiseAsync(string type, EventActor actor)
    {
        State.UpdatedAt = Clock.GetUtcNow();
        _stamped = true;
        return RaiseAsync(type, View(), GrainContractsJsonContext.Default.TaskView, actor, State.WorkflowId);
    }

    private async Task<TaskView> SaveAsync()
    {
        // Stamped when its event was raised, so the stored task and the payload clients saw agree on updatedAt.
        if (!_stamped)
        {
            State.UpdatedAt = Clock.GetUtcNow();
        }

        _stamped = false;
        var view = View();
        ProjectAs(view, GrainContractsJsonContext.Default.TaskView, StatusName(view.Status), owner: State.LeaseAgentId, group: State.WorkflowId);
        await task.WriteStateAsync();
        return view;
    }

    private TaskView View() => new(
        Id,
        State.Title,
        State.Description,
        State.Priority,
        State.RequiredCapabilities,
        State.DependsOn,
        State.Status,
        State.Attempt,
        State.MaxAttempts,
        State.LeaseSeconds,
        State.LeaseAgentId is { } agentId ? new TaskLease(agentId, State.LeaseExpiresAt!.Value) : null,
        State.Input,
        State.Output,
        State.Error,
        State.Progress,
        State.WorkflowId,
        State.BlockedReason,
        State.NextAttemptAt,
        State.CreatedAt,
        State.UpdatedAt);

    private static string StatusName(TaskLifecycleStatus status) => JsonName(status, GrainContractsJsonContext.Default.TaskLifecycleStatus);

    private void EnsureCreated()
    {
        if (!State.Created)
        {
            throw new OrchestrationException(ProblemCodes.NotFound, $"Task '{Id}' does not exist.");
        }
    }

    private void Validate(CreateTask request)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(request.Title))
        {
            errors.Add("title is required");
        }

        if (request.Priority is < 0 or > 100)
        {
            errors.Add("priority must be 0–100");
        }

        if (request.MaxAttempts < 1)
        {
            errors.Add("maxAttempts must be at least 1");
        }

        if (request.LeaseSeconds < 1)
        {
            errors.Add("leaseSeconds must be at least 1");
        }

        if (request.DependsOn.Contains(Id))
        {
            errors.Add("a task cannot depend on itself");
        }

        if (errors.Count > 0)
        {
            throw new OrchestrationException(ProblemCodes.InvalidRequest, string.Join("; ", errors) + ".");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} could not tell every dependent of its final status; its reminder tries again")]
    private static partial void LogTellingDependentsFailed(ILogger logger, string taskId, Exception exception);
}
