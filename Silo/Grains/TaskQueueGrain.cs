using System.Text.Json;
using Orchestration.Grains;
using Orchestration.Grains.Agents;
using Orchestration.Grains.Tasks;
using Orchestration.Runtime;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Timers;

namespace Orchestration.Silo.Grains;

/// <summary>
/// The claim path of one organisation. The index of ready tasks lives only in memory: it is rebuilt from the
/// <c>tasks</c> projection on activation and every <see cref="ResyncInterval"/> (covering offers lost to a crash),
/// and the task grain decides every claim, so a stale entry costs one refused claim, never a double lease.
/// </summary>
/// <remarks>
/// Reentrant by design: a claim waiting for a task (long-poll) must not hold up offers or other claims. Between awaits
/// each call sees the index alone; an entry is taken out before its claim is attempted, so two claims never try one task.
/// </remarks>
[Reentrant]
[GrainType("task-queue")]
internal sealed class TaskQueueGrain(IProjectionStore projections, TimeProvider timeProvider, ILogger<TaskQueueGrain> logger) : Grain, ITaskQueueGrain
{
    public static readonly TimeSpan ResyncInterval = TimeSpan.FromSeconds(30);

    /// <summary>The longest one claim call waits; callers that wait longer call again.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(25);

    private readonly SortedSet<ReadyTask> _ready = new(ClaimOrder.Instance);
    private readonly Dictionary<string, ReadyTask> _byId = new(StringComparer.Ordinal);
    private TaskCompletionSource _offered = NewSignal();
    private IGrainTimer? _resync;

    // Names this activation to the agents it claims for: slots kept by an earlier activation are freed when a claim
    // of this one comes (AgentGrain.PrepareClaimAsync), as nobody will end them.
    private readonly string _activation = Guid.NewGuid().ToString("N");

    private string OrgId => GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await RebuildAsync(cancellationToken);
        _resync = RegisterGrainTimer(RebuildAsync, new GrainTimerCreationOptions { DueTime = ResyncInterval, Period = ResyncInterval, Interleave = true });
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _resync?.Dispose();
        return Task.CompletedTask;
    }

    public async Task<TaskView?> ClaimAsync(ClaimTask request)
    {
        var agent = GrainFactory.GetGrain<IAgentGrain>($"{OrgId}/{request.AgentId}");
        if (request is { IsRerun: true, ClaimToken: { } token } && await EarlierRunsClaimAsync(request.AgentId, token) is { } earlier)
        {
            // The first run's word to the agent may have been lost with it (no slot was kept for this run: reservation 0).
            OneWayCall.Forget(agent.TaskClaimedAsync(earlier.Id, earlier.Attempt, 0), logger, $"tell agent {request.AgentId} of its claim");
            return earlier;
        }

        ClaimTicket ticket;
        try
        {
            ticket = await agent.PrepareClaimAsync(null, _activation);
        }
        catch (OrchestrationException e) when (e.Code == ProblemCodes.AgentNotAvailable && request.TaskId is not null)
        {
            // A claim of a task whose lease is held is refused for the task's sake first (API.md), even when the agent
            // is at its limit: typically the holder itself claiming its own task again. A paused or offline agent is
            // refused as such.
            if ((await agent.GetAsync()).Status is AgentStatus.Online or AgentStatus.Busy
                && (await TaskInOrg(request.TaskId).GetAsync()).Lease is not null)
            {
                throw new OrchestrationException(ProblemCodes.TaskNotClaimable, $"Task '{request.TaskId}' is leased. {e.Message}");
            }

            throw;
        }

        TaskView? claimed = null;
        var failed = true;
        try
        {
            claimed = await ClaimWithTicketAsync(request, ticket, agent);
            failed = false;
            return claimed;
        }
        finally
        {
            // Not awaited, to keep the agent's bookkeeping off the claim's path. The agent's next PrepareClaimAsync from
            // here queues behind this message (one activation, calls in order); the task grain records the lease, so
            // losing it costs only a late activeTaskIds (see AgentGrain.ForgetTasksNoLongerHeldAsync) or a slot that
            // lapses (AgentGrain.ClaimReservationLifetime).
            OneWayCall.Forget(
                claimed is null ? agent.ClaimEndedAsync(ticket.Reservation, outcomeUnknown: failed) : agent.TaskClaimedAsync(claimed.Id, claimed.Attempt, ticket.Reservation),
                logger,
                $"tell agent {request.AgentId} how its claim ended");
        }
    }

    /// <summary>
    /// The task an earlier, unanswered run of this claim leased to the agent, if its lease still lasts: asked before the
    /// agent's limit, which that lease may fill (an agent of one task would otherwise be refused until it expired). The
    /// held tasks come from the <c>tasks</c> projection, committed with each lease, not from the agent's notices, which
    /// the queue's silo may have died before sending.
    /// </summary>
    private async Task<TaskView?> EarlierRunsClaimAsync(string agentId, string claimToken)
    {
        var held = new ProjectionQuery(TaskGrain.CollectionName, OrgId) { Owner = agentId, IncludeDocuments = false };
        foreach (var row in await projections.ReadAllAsync(held, CancellationToken.None))
        {
            if (await TaskInOrg(row.Id).HeldUnderClaimAsync(agentId, claimToken) is { } task)
            {
                return task;
            }
        }

        return null;
    }

    private async Task<TaskView?> ClaimWithTicketAsync(ClaimTask request, ClaimTicket ticket, IAgentGrain agent)
    {
        if (request.TaskId is { } taskId)
        {
            var claimed = await TaskInOrg(taskId).ClaimAsync(request.AgentId, ticket.Capabilities, request.ClaimToken);
            Remove(taskId);
            return claimed;
        }

        var deadline = timeProvider.GetUtcNow() + (request.Wait > MaxWait ? MaxWait : request.Wait);
        // One timer for the whole wait, disposed as the claim ends: a timer per wake-up would each live on to the
        // deadline, one for every offer any waiting claim saw.
        using var waitEnded = new CancellationTokenSource();
        Task? deadlinePassed = null;
        try
        {
            while (true)
            {
                while (TakeBest(ticket.Capabilities) is { } candidate)
                {
                    try
                    {
                        return await TaskInOrg(candidate.TaskId).ClaimAsync(request.AgentId, ticket.Capabilities, request.ClaimToken);
                    }
                    catch (OrchestrationException e) when (e.Code is ProblemCodes.TaskNotClaimable or ProblemCodes.NotFound)
                    {
                        // claimed elsewhere, cancelled, or a stale entry: the task grain said no
                    }
                    catch
                    {
                        Add(candidate);
                        throw;
                    }
                }

                var remaining = deadline - timeProvider.GetUtcNow();
                if (remaining <= TimeSpan.Zero)
                {
                    return null;
                }

                deadlinePassed ??= Task.Delay(remaining, timeProvider, waitEnded.Token);
                await Task.WhenAny(_offered.Task, deadlinePassed);
                ticket = await agent.PrepareClaimAsync(ticket.Reservation, _activation);
            }
        }
        finally
        {
            await waitEnded.CancelAsync();
        }
    }

    public Task TaskReadyAsync(ReadyTask task)
    {
        Add(task);
        return Task.CompletedTask;
    }

    public Task<string> ActivationAsync() => Task.FromResult(_activation);

    public Task TaskWithdrawnAsync(string taskId)
    {
        Remove(taskId);
        return Task.CompletedTask;
    }

    private ITaskGrain TaskInOrg(string taskId) => GrainFactory.GetGrain<ITaskGrain>($"{OrgId}/{taskId}");

    private ReadyTask? TakeBest(IReadOnlyList<string> capabilities)
    {
        foreach (var candidate in _ready)
        {
            if (candidate.RequiredCapabilities.All(capabilities.Contains))
            {
                Remove(candidate.TaskId);
                return candidate;
            }
        }

        return null;
    }

    private void Add(ReadyTask task)
    {
        Index(task);
        WakeClaims();
    }

    private void Index(ReadyTask task)
    {
        Remove(task.TaskId);
        _byId[task.TaskId] = task;
        _ready.Add(task);
    }

    /// <summary>Wakes every waiting claim; each looks for its own match and waits again if there is none.</summary>
    private void WakeClaims()
    {
        var offered = _offered;
        _offered = NewSignal();
        offered.TrySetResult();
    }

    private void Remove(string taskId)
    {
        if (_byId.Remove(taskId, out var existing))
        {
            _ready.Remove(existing);
        }
    }

    /// <summary>
    /// Adds the ready tasks the index is missing. On activation that is all of them, read with their documents. A resync
    /// (covering offers lost to a crash) reads only the ready rows' ids and fetches the few documents it lacks: a ready
    /// task's claim order never changes, and a backlog of thousands of ready tasks used to cost a read of every
    /// document, and holding the claim path while they were deserialized, every 30 s.
    /// </summary>
    private async Task RebuildAsync(CancellationToken cancellationToken)
    {
        var resync = _byId.Count > 0;
        var ready = new ProjectionQuery(TaskGrain.CollectionName, OrgId) { Status = "ready", IncludeDocuments = !resync };
        var added = false;
        foreach (var row in await projections.ReadAllAsync(ready, cancellationToken))
        {
            if (_byId.ContainsKey(row.Id))
            {
                continue;
            }

            var document = resync ? (await projections.GetAsync(TaskGrain.CollectionName, OrgId, row.Id, cancellationToken))?.Document : row.Document;
            var view = document is null ? null : JsonSerializer.Deserialize(document, GrainContractsJsonContext.Default.TaskView)!;
            if (view?.Status == TaskLifecycleStatus.Ready && !_byId.ContainsKey(view.Id))
            {
                Index(new ReadyTask(view.Id, view.Priority, view.RequiredCapabilities, view.CreatedAt));
                added = true;
            }
        }

        if (added)
        {
            WakeClaims();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Highest priority first, then oldest, then by id so that the order is total.</summary>
    private sealed class ClaimOrder : IComparer<ReadyTask>
    {
        public static readonly ClaimOrder Instance = new();

        public int Compare(ReadyTask? x, ReadyTask? y)
        {
            if (ReferenceEquals(x, y))
            {
                return 0;
            }

            var byPriority = y!.Priority.CompareTo(x!.Priority);
            if (byPriority != 0)
            {
                return byPriority;
            }

            var byAge = x.CreatedAt.CompareTo(y.CreatedAt);
            return byAge != 0 ? byAge : string.CompareOrdinal(x.TaskId, y.TaskId);
        }
    }
}
