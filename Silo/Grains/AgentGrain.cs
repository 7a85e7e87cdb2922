using System.Text.Json;
using Orchestration.Grains;
using Orchestration.Grains.Agents;
using Orchestration.Grains.Events;
using Orchestration.Grains.Organisations;
using Orchestration.Grains.Tasks;
using Orchestration.Runtime;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Reminders;
using Orchestration.Runtime.Timers;

namespace Orchestration.Silo.Grains;

/// <summary>
/// One agent. Liveness is a one-shot reminder due a heartbeat window after the last heartbeat seen when it was set:
/// when it fires early (heartbeats came since) it is set again for the new deadline, so heartbeats cost one state
/// write each and no reminder write. Task liveness is separate: progress renews a task's lease on the task.
/// </summary>
/// <remarks>
/// Which tasks the agent holds is the tasks' record, not the agent's: tasks tell their agent without waiting (ADR 6), so
/// a crash can lose that word. On activation the held set is read back from the tasks projection (committed with every
/// task's state), so after a restart the agent's limit and "offline releases every lease" count exactly what it holds.
/// That is also why the bookkeeping of claims and ends is written behind (<see cref="BookkeepingWriteDelay"/>): it only
/// mirrors what the tasks committed, so the limit is enforced from memory at once and the row catches up in one write
/// for every claim and end of the window, instead of two writes per task.
/// Leases given up (offline, deregistered) are revoked durably: they are written down with the change that gives them
/// up, with a reminder, and crossed off only once revoked (<see cref="GiveUpLeasesAsync"/>).
/// </remarks>
[GrainType("agent")]
internal sealed class AgentGrain(
    [PersistentState("agent")] IPersistentState<AgentState> agent,
    IProjectionStore projections,
    TimeProvider timeProvider) : TenantGrain(timeProvider), IAgentGrain, IRemindable
{
    public const string CollectionName = "agents";
    private const string LivenessReminder = "liveness";
    private const string RevocationReminder = "revocation";

    // How many replaced activations of the organisation's queue an agent remembers (see FollowQueueActivation).
    private const int MaxReplacedQueueActivations = 8;

    // How long an agent waits for the queue to confirm its live activation (see LiveQueueActivationAsync).
    private static readonly TimeSpan s_queueConfirmationTimeout = TimeSpan.FromSeconds(2);

    // When a revocation cut short (a failed call, a crash) is taken up again; a failing tick then retries with back-off.
    private static readonly TimeSpan s_revocationSafetyNet = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a claim's or an end's bookkeeping (held tasks, busy, counters) may wait before it is written; every save
    /// in the meantime carries it, and so does deactivation. A crash loses at most this much of the counters: the held
    /// tasks come back from the tasks projection.
    /// </summary>
    internal static readonly TimeSpan BookkeepingWriteDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How long a claim's slot is kept without word from the queue: longer than a claim waits
    /// (<c>TaskQueueGrain.MaxWait</c>) plus a grain call's timeout, so only a lost message lets a slot lapse.
    /// </summary>
    internal static readonly TimeSpan ClaimReservationLifetime = TimeSpan.FromSeconds(60);

    // Slots kept for claims on their way (in memory only: a claim does not outlive the activation that counts it).
    private readonly List<ClaimInFlight> _claimsInFlight = [];

    // Ends that arrived before their claim's notice (the task and the queue tell the agent separately, so either may come
    // first), by task id: applied when the notice of the same attempt comes. In memory only, and forgotten after
    // ClaimReservationLifetime, by when a notice would have come.
    private readonly Dictionary<string, EndedAhead> _endedAhead = new(StringComparer.Ordinal);
    // The same notes in the order they were made, which is the order they are forgotten in: every end is noted (a busy
    // agent's minute of them), so forgetting must not look at them all each time.
    private readonly Queue<(string TaskId, DateTimeOffset ForgetAt)> _endedAheadByAge = new();

    // The attempt of each held task whose claim this activation heard of, so an earlier attempt's late end is told apart.
    private readonly Dictionary<string, int> _heldAttempts = new(StringComparer.Ordinal);
    // The activation of the organisation's queue that claims for this agent, and the ones it replaced (the latest few:
    // an activation lasts minutes at least, and one left running past its hand-over is rare).
    private readonly List<string> _replacedQueueActivations = [];
    private string? _queueActivation;
    // Whether a lease this agent was not told of may exist (a queue activation replaced, a claim whose outcome is
    // unknown): the held tasks are read back from the tasks projection before the next claim, and before every claim
    // until _adoptHeldTasksUntil, as the lease of a claim that timed out may commit after the first read. Cleared only
    // by a read that succeeded.
    private bool _adoptHeldTasks;
    private DateTimeOffset _adoptHeldTasksUntil;
    // Starts anywhere: a waiting claim keeps its reservation across this grain's reactivation, and a number that every
    // activation started counting from would be handed to a second claim, whose end would free both slots.
    private long _lastReservation = Random.Shared.NextInt64(1L << 62);
    private IGrainTimer? _bookkeepingWrite;

    protected override string Collection => CollectionName;

    private AgentState State => agent.State;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (State.Registered)
        {
            State.ActiveTaskIds = await HeldTasksAsync(cancellationToken);
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_bookkeepingWrite is not null)
        {
            await SaveAsync();
        }
    }

    public async Task<AgentRegistration> RegisterAsync(RegisterAgent request, EventActor actor)
    {
        if (request.MaxConcurrentTasks < 1)
        {
            throw new OrchestrationException(ProblemCodes.InvalidRequest, "maxConcurrentTasks must be at least 1.");
        }

        await RevokeGivenUpLeasesAsync();
        var settings = await SettingsAsync(); // before any change: a failed read must not leave a change without its reminder
        var created = !State.Registered;
        var now = Clock.GetUtcNow();
        var wasOffline = State.Status == AgentStatus.Offline;
        if (created)
        {
            agent.State = new AgentState { Registered = true, RegisteredAt = now, Status = AgentStatus.Online };
        }

        State.Name = request.Name;
        State.Capabilities = [.. request.Capabilities.Distinct(StringComparer.Ordinal)];
        State.Model = request.Model;
        State.MaxConcurrentTasks = request.MaxConcurrentTasks;
        State.Metadata = request.Metadata;
        State.LastHeartbeatAt = now;
        if (created)
        {
            await WatchLivenessAsync(now, settings);
            await RaiseAsync("agent.registered", actor);
        }
        else if (wasOffline)
        {
            await ComeBackAsync(now, actor, settings);
        }
        else
        {
            await RaiseAsync("agent.updated", actor);
        }

        return new AgentRegistration(await SaveAsync(), created);
    }

    public async Task<HeartbeatResult> HeartbeatAsync()
    {
        EnsureRegistered();
        await RevokeGivenUpLeasesAsync();
        var settings = await SettingsAsync(); // before any change, as in RegisterAsync
        var now = Clock.GetUtcNow();
        State.LastHeartbeatAt = now;
        if (State.Status == AgentStatus.Offline)
        {
            await ComeBackAsync(now, Self, settings);
        }

        var view = await SaveAsync();
        return new HeartbeatResult(view.Status, now + TimeSpan.FromSeconds(settings.HeartbeatIntervalSeconds));
    }

    public Task<AgentView> GetAsync()
    {
        EnsureRegistered();
        return Task.FromResult(View());
    }

    public async Task<AgentView> PauseAsync(EventActor actor)
    {
        EnsureRegistered();
        if (State.Status == AgentStatus.Offline)
        {
            throw new OrchestrationException(ProblemCodes.InvalidTransition, $"Agent '{Id}' is offline; only an online agent can be paused.");
        }

        if (State.Status != AgentStatus.Paused)
        {
            State.Status = AgentStatus.Paused;
            await RaiseAsync("agent.paused", actor);
        }

        return await SaveAsync();
    }

    public async Task<AgentView> ResumeAsync(EventActor actor)
    {
        EnsureRegistered();
        if (State.Status == AgentStatus.Paused)
        {
            State.Status = AgentStatus.Online;
            await RaiseAsync("agent.online", actor);
        }
        else if (State.Status == AgentStatus.Offline)
        {
            if (!State.PausedWhenOffline)
            {
                throw new OrchestrationException(ProblemCodes.InvalidTransition, $"Agent '{Id}' is offline; a heartbeat brings it back.");
            }

            // It stays offline until it is heard from, then comes back online instead of paused; the event records who
            // changed that while nothing else shows it.
            State.PausedWhenOffline = false;
            await RaiseAsync("agent.updated", actor);
        }

        return await SaveAsync();
    }

    public async Task DeregisterAsync(EventActor actor)
    {
        EnsureRegistered();
        var (held, _) = await TasksToGiveBackAsync();
        await RaiseAsync("agent.deregistered", actor);
        RemoveProjection(CollectionName, OrgId, Id);
        CancelBookkeepingWrite(); // a late write would bring the row back
        await UnregisterReminder(LivenessReminder);
        agent.State = new AgentState { LeasesToRevoke = State.LeasesToRevoke };
        await GiveUpLeasesAsync(held);
    }

    public async Task<ClaimTicket> PrepareClaimAsync(long? reservation, string queueActivation)
    {
        EnsureRegistered();
        var now = Clock.GetUtcNow();
        _claimsInFlight.RemoveAll(claim => now >= claim.LapsesAt);
        await FollowQueueActivationAsync(queueActivation);
        if (reservation is { } renewed)
        {
            ClaimEnded(renewed); // a waiting claim looking again: its slot is counted once, below
        }

        if (State.Status is AgentStatus.Paused or AgentStatus.Offline)
        {
            throw new OrchestrationException(ProblemCodes.AgentNotAvailable, $"Agent '{Id}' is {JsonName(State.Status, GrainContractsJsonContext.Default.AgentStatus)} and may not claim tasks.");
        }

        if (_adoptHeldTasks || now < _adoptHeldTasksUntil)
        {
            // The lease was committed with the task's projection row, so the held tasks are read back from there.
            await AdoptHeldTasksAsync();
            _adoptHeldTasks = false;
        }

        if (State.ActiveTaskIds.Count + _claimsInFlight.Count >= State.MaxConcurrentTasks)
        {
            await ForgetTasksNoLongerHeldAsync();
        }

        var free = State.MaxConcurrentTasks - State.ActiveTaskIds.Count - _claimsInFlight.Count;
        if (free < 1)
        {
            throw new OrchestrationException(
                ProblemCodes.AgentNotAvailable,
                $"Agent '{Id}' already holds {State.ActiveTaskIds.Count} of its {State.MaxConcurrentTasks} tasks"
                + (_claimsInFlight.Count > 0 ? $" and is claiming {_claimsInFlight.Count} more." : "."));
        }

        var kept = new ClaimInFlight(reservation ?? ++_lastReservation, now + ClaimReservationLifetime, queueActivation);
        _claimsInFlight.Add(kept);
        return new ClaimTicket(State.Capabilities, free, kept.Reservation);
    }

    public async Task TaskClaimedAsync(string taskId, int attempt, long reservation)
    {
        ClaimEnded(reservation);
        if (!State.Registered || State.Status == AgentStatus.Offline)
        {
            // The agent went away while the claim was on its way: give the lease back at once.
            await GiveUpLeasesAsync([taskId]);
            return;
        }

        if (_endedAhead.Remove(taskId, out var ended) && ended.Attempt == attempt)
        {
            // This attempt already ended: count it (unless its end was counted then), and do not hold a task that is not
            // held. (An earlier attempt's end is dropped: mostly a lease the agent let go of and counted when it went offline.)
            if (!ended.Counted)
            {
                Count(ended.Outcome);
                WriteBookkeepingSoon();
            }

            return;
        }

        if (_heldAttempts.TryGetValue(taskId, out var heldAttempt) && heldAttempt > attempt)
        {
            return; // a notice older than the attempt already held
        }

        _heldAttempts[taskId] = attempt;
        if (!State.ActiveTaskIds.Contains(taskId))
        {
            State.ActiveTaskIds.Add(taskId);
            WriteBookkeepingSoon();
        }
    }

    public Task ClaimEndedAsync(long reservation, bool outcomeUnknown)
    {
        ClaimEnded(reservation);
        if (outcomeUnknown)
        {
            ReadHeldTasksBack();
        }

        return Task.CompletedTask;
    }

    public Task TaskEndedAsync(string taskId, int attempt, TaskOutcome outcome)
    {
        if (!State.Registered)
        {
            return Task.CompletedTask;
        }

        // The attempt held is known unless the activation restarted since its claim: then any end of the task ends it.
        var known = _heldAttempts.TryGetValue(taskId, out var heldAttempt);
        if (!State.ActiveTaskIds.Contains(taskId) || (known && attempt > heldAttempt))
        {
            // An end already noted as counted (a lease given up when the agent went offline) stays counted.
            var counted = _endedAhead.TryGetValue(taskId, out var noted) && noted.Attempt == attempt && noted.Counted;
            NoteEndedAhead(taskId, new EndedAhead(attempt, outcome, Clock.GetUtcNow() + ClaimReservationLifetime, Counted: counted));
            return Task.CompletedTask;
        }

        if (!known || attempt == heldAttempt)
        {
            State.ActiveTaskIds.Remove(taskId);
            _heldAttempts.Remove(taskId);
            // A notice of this attempt's claim may still come (held because the tasks' projection said so, on activation
            // or after a queue activation was replaced) or come again (a re-run's): it must neither hold the task again
            // nor count it twice.
            NoteEndedAhead(taskId, new EndedAhead(attempt, outcome, Clock.GetUtcNow() + ClaimReservationLifetime, Counted: true));
        }

        // An earlier attempt's end, after the agent claimed the task again, counts but leaves the new attempt held.
        Count(outcome);
        WriteBookkeepingSoon();
        return Task.CompletedTask;
    }

    private void Count(TaskOutcome outcome)
    {
        if (outcome == TaskOutcome.Completed)
        {
            State.CompletedCount++;
        }
        else if (outcome is TaskOutcome.Failed or TaskOutcome.Lost)
        {
            State.FailedCount++;
        }
    }

    /// <summary>
    /// Keeps an end whose claim this agent has not heard of. Most are ends of leases the agent already let go of (offline,
    /// deregistered) and wait out their time; one whose notice comes is counted then.
    /// </summary>
    private void NoteEndedAhead(string taskId, EndedAhead ended)
    {
        var now = Clock.GetUtcNow();
        while (_endedAheadByAge.TryPeek(out var oldest) && now >= oldest.ForgetAt)
        {
            _endedAheadByAge.Dequeue();
            if (_endedAhead.TryGetValue(oldest.TaskId, out var noted) && noted.ForgetAt == oldest.ForgetAt)
            {
                _endedAhead.Remove(oldest.TaskId); // not noted again since
            }
        }

        foreach (var dropped in _heldAttempts.Keys.Where(held => !State.ActiveTaskIds.Contains(held)).ToList())
        {
            _heldAttempts.Remove(dropped); // let go of without an end (offline, deregistered, forgotten)
        }

        _endedAhead[taskId] = ended;
        _endedAheadByAge.Enqueue((taskId, ended.ForgetAt));
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == RevocationReminder)
        {
            await RevokeGivenUpLeasesAsync();
            return;
        }

        if (reminderName != LivenessReminder || !State.Registered || State.Status == AgentStatus.Offline)
        {
            return;
        }

        var deadline = State.LastHeartbeatAt + (await SettingsAsync()).HeartbeatWindow;
        var now = Clock.GetUtcNow();
        if (!HasReached(now, deadline))
        {
            await RemindAtAsync(LivenessReminder, deadline);
            return;
        }

        var (held, unheard) = await TasksToGiveBackAsync();
        State.PausedWhenOffline = State.Status == AgentStatus.Paused;
        State.Status = AgentStatus.Offline;
        State.FailedCount += held.Count;
        State.ActiveTaskIds.Clear();
        foreach (var row in unheard)
        {
            // Counted here, though the agent never heard of its claim: that notice may still come, after or before the
            // lease's end, and neither may count the attempt again.
            var attempt = JsonSerializer.Deserialize(row.Document, GrainContractsJsonContext.Default.TaskView)!.Attempt;
            NoteEndedAhead(row.Id, new EndedAhead(attempt, TaskOutcome.Lost, now + ClaimReservationLifetime, Counted: true));
        }

        await RaiseAsync("agent.offline", new EventActor("system", "heartbeat-monitor"));
        await GiveUpLeasesAsync(held);
    }

    private EventActor Self => new("agent", Id);

    /// <summary>
    /// An offline agent heard from again: online, or paused if an operator had paused it (missing heartbeats does not
    /// resume it).
    /// </summary>
    private async Task ComeBackAsync(DateTimeOffset now, EventActor actor, OrganisationSettings settings)
    {
        State.Status = State.PausedWhenOffline ? AgentStatus.Paused : AgentStatus.Online;
        State.PausedWhenOffline = false;
        await WatchLivenessAsync(now, settings);
        await RaiseAsync(State.Status == AgentStatus.Paused ? "agent.paused" : "agent.online", actor);
    }

    /// <summary>
    /// Tasks tell their agent that a lease ended without waiting for it, so a crash can lose that word. The task is the
    /// record of its lease: before refusing a claim for being at the limit, ask each task whether this agent still holds it.
    /// </summary>
    private async Task ForgetTasksNoLongerHeldAsync()
    {
        var stale = new List<string>();
        foreach (var taskId in State.ActiveTaskIds)
        {
            try
            {
                var view = await GrainFactory.GetGrain<ITaskGrain>(KeyInOrg(taskId)).GetAsync();
                if (view.Lease?.AgentId != Id)
                {
                    stale.Add(taskId);
                }
            }
            catch (OrchestrationException e) when (e.Code == ProblemCodes.NotFound)
            {
                stale.Add(taskId);
            }
        }

        if (stale.Count > 0)
        {
            State.ActiveTaskIds.RemoveAll(stale.Contains);
            await SaveAsync();
        }
    }

    /// <summary>
    /// Follows the organisation's queue to <paramref name="queueActivation"/> when it is a new activation, freeing the
    /// slots the one before kept: that one lost the grain (its silo died or handed it over mid-claim) and will never end
    /// them, and an agent of one task would be refused until they lapsed; and, since it may have leased a task and died
    /// before saying so, the held tasks are read back before this claim. A claim of an activation already replaced is
    /// refused, so a turn of it that outlived its hand-over cannot take a slot, or free the new activation's. So is one
    /// of an activation this agent has not seen, unless the queue confirms it is the live one: a turn of an activation
    /// that lost the grain, resuming after this agent's activation forgot it, would otherwise pass for the newest and
    /// have the live one refused from then on. (The first activation an agent's activation hears from is followed as it
    /// is: the held tasks were read on activation, and a stale one is corrected by the live one's first claim.)
    /// </summary>
    private async Task FollowQueueActivationAsync(string queueActivation)
    {
        if (queueActivation == _queueActivation)
        {
            return;
        }

        var replaced = _replacedQueueActivations.Contains(queueActivation);
        if (replaced || (_queueActivation is not null && await LiveQueueActivationAsync() != queueActivation))
        {
            if (!replaced)
            {
                RememberReplaced(queueActivation);
            }

            throw new OrchestrationException(
                ProblemCodes.AgentNotAvailable,
                $"Agent '{Id}' claims through a newer activation of its organisation's task queue than this one, which lost the grain; retry.");
        }

        if (_queueActivation is not null)
        {
            RememberReplaced(_queueActivation);
            ReadHeldTasksBack(); // its claims past the check may still lease
        }

        _queueActivation = queueActivation;
        _claimsInFlight.RemoveAll(claim => claim.QueueActivation != queueActivation);
    }

    /// <summary>
    /// The queue's live activation, asked with a short bound: the activation asking may itself be handing the queue over,
    /// with this question queued behind its deactivation, which waits for the very claim that asks. Unanswered, the
    /// claim is refused for now (the agent is not blocked for a call's whole timeout) and nothing is remembered.
    /// </summary>
    private async Task<string> LiveQueueActivationAsync()
    {
        var asking = GrainFactory.GetGrain<ITaskQueueGrain>(OrgId).ActivationAsync();
        try
        {
            return await asking.WaitAsync(s_queueConfirmationTimeout, Clock);
        }
        catch (TimeoutException)
        {
            // The question is left to its own call's timeout; its failure, if it fails, is of no interest.
            _ = asking.ContinueWith(static call => _ = call.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw new OrchestrationException(
                ProblemCodes.AgentNotAvailable, $"Agent '{Id}' could not confirm its organisation's task queue, which is moving; retry.");
        }
    }

    /// <summary>A lease this agent was not told of may exist, or yet commit: read the held tasks back for a while.</summary>
    private void ReadHeldTasksBack()
    {
        _adoptHeldTasks = true;
        _adoptHeldTasksUntil = Clock.GetUtcNow() + ClaimReservationLifetime;
    }

    private void RememberReplaced(string queueActivation)
    {
        if (_replacedQueueActivations.Count == MaxReplacedQueueActivations)
        {
            _replacedQueueActivations.RemoveAt(0);
        }

        _replacedQueueActivations.Add(queueActivation);
    }

    /// <summary>Holds every task whose lease the tasks committed to this agent, also those whose claim's word was lost.</summary>
    private async Task AdoptHeldTasksAsync()
    {
        var unknown = (await HeldTasksAsync(CancellationToken.None)).Except(State.ActiveTaskIds, StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
        {
            State.ActiveTaskIds.AddRange(unknown);
            WriteBookkeepingSoon();
        }
    }

    /// <summary>
    /// The tasks whose lease this agent holds, as the tasks committed them (their projection's owner), except those it
    /// gave up, which may not have let go yet.
    /// </summary>
    private async Task<List<string>> HeldTasksAsync(CancellationToken cancellationToken) =>
        [.. (await HeldTaskRowsAsync(cancellationToken)).Select(row => row.Id)];

    private async Task<List<ProjectionRow>> HeldTaskRowsAsync(CancellationToken cancellationToken) =>
        [.. (await projections.ReadAllAsync(new ProjectionQuery(TaskGrain.CollectionName, OrgId) { Owner = Id }, cancellationToken))
            .Where(row => !State.LeasesToRevoke.Contains(row.Id))];

    /// <summary>
    /// Every task this agent holds, for giving them all back: those it was told of, and those whose claim committed
    /// without the word reaching it (the queue's silo died, or the notice came too late), which only the tasks' records
    /// know; the latter are also returned as their rows.
    /// </summary>
    private async Task<(List<string> Held, List<ProjectionRow> Unheard)> TasksToGiveBackAsync()
    {
        var unheard = (await HeldTaskRowsAsync(CancellationToken.None)).Where(row => !State.ActiveTaskIds.Contains(row.Id)).ToList();
        return ([.. State.ActiveTaskIds, .. unheard.Select(row => row.Id)], unheard);
    }

    private Task WatchLivenessAsync(DateTimeOffset lastHeartbeat, OrganisationSettings settings) =>
        RemindAtAsync(LivenessReminder, lastHeartbeat + settings.HeartbeatWindow);

    /// <summary>
    /// Gives back the leases of <paramref name="taskIds"/> so that no crash or failed call can keep them: they are added to
    /// <see cref="AgentState.LeasesToRevoke"/>, which commits with the caller's changes and with a reminder, and then
    /// revoked. Whatever is not revoked by the end of this call is left to that reminder, which retries until none is.
    /// </summary>
    private async Task GiveUpLeasesAsync(IReadOnlyList<string> taskIds)
    {
        State.LeasesToRevoke.AddRange(taskIds.Where(taskId => !State.LeasesToRevoke.Contains(taskId)));
        if (State.LeasesToRevoke.Count > 0)
        {
            await RegisterOrUpdateReminder(RevocationReminder, s_revocationSafetyNet, TimeSpan.Zero);
        }

        await StoreAsync();
        await RevokeGivenUpLeasesAsync();
    }

    /// <summary>
    /// Revokes the leases given up and not yet revoked, crossing each off once its task has let it go, then ends the
    /// reminder with the write that empties the list. A revocation repeated after a crash is a no-op on the task.
    /// Revoking by agent id alone (no attempt) is safe only because an agent with leases to revoke claims nothing: it is
    /// offline or deregistered, and a heartbeat or registration calls this before it may claim again. Task grains never
    /// wait on an agent (they notify it without awaiting), so waiting on them here cannot deadlock.
    /// </summary>
    private async Task RevokeGivenUpLeasesAsync()
    {
        if (State.LeasesToRevoke.Count == 0)
        {
            return;
        }

        while (State.LeasesToRevoke.Count > 0)
        {
            await GrainFactory.GetGrain<ITaskGrain>(KeyInOrg(State.LeasesToRevoke[0])).RevokeLeaseAsync(Id, attempt: null);
            State.LeasesToRevoke.RemoveAt(0);
        }

        await UnregisterReminder(RevocationReminder);
        await StoreAsync();
    }

    /// <summary>Writes the agent; a deregistered one is kept only while it has leases to revoke.</summary>
    private async Task StoreAsync()
    {
        if (State.Registered)
        {
            await SaveAsync();
        }
        else if (State.LeasesToRevoke.Count > 0)
        {
            await agent.WriteStateAsync();
        }
        else
        {
            await agent.ClearStateAsync();
        }
    }

    // Read each time (a call to an active grain), so a changed heartbeat window applies from the next heartbeat on.
    private Task<OrganisationSettings> SettingsAsync() => GrainFactory.GetGrain<IOrganisationGrain>(OrgId).GetSettingsAsync();

    private Task RaiseAsync(string type, EventActor actor) =>
        RaiseAsync(type, View(), GrainContractsJsonContext.Default.AgentView, actor, correlationId: null);

    private void WriteBookkeepingSoon() =>
        _bookkeepingWrite ??= RegisterGrainTimer(
            async _ =>
            {
                // A save since the timer was set carried the bookkeeping and cleared it; a tick queued before that finds nothing.
                if (_bookkeepingWrite is not null)
                {
                    await SaveAsync();
                }
            },
            new GrainTimerCreationOptions { DueTime = BookkeepingWriteDelay, Period = Timeout.InfiniteTimeSpan });

    private void CancelBookkeepingWrite()
    {
        _bookkeepingWrite?.Dispose();
        _bookkeepingWrite = null;
    }

    private async Task<AgentView> SaveAsync()
    {
        CancelBookkeepingWrite(); // this write carries it
        var view = View();
        ProjectAs(view, GrainContractsJsonContext.Default.AgentView, JsonName(view.Status, GrainContractsJsonContext.Default.AgentStatus));
        await agent.WriteStateAsync();
        return view;
    }

    private AgentView View() => new(
        Id,
        State.Name,
        State.Capabilities,
        State.Model,
        State.Status == AgentStatus.Online && State.ActiveTaskIds.Count > 0 ? AgentStatus.Busy : State.Status,
        State.LastHeartbeatAt,
        State.ActiveTaskIds.ToList(),
        State.CompletedCount,
        State.FailedCount,
        CostUsd: 0m,
        State.RegisteredAt,
        State.MaxConcurrentTasks,
        State.Metadata);

    private void ClaimEnded(long reservation) => _claimsInFlight.RemoveAll(claim => claim.Reservation == reservation);

    private readonly record struct ClaimInFlight(long Reservation, DateTimeOffset LapsesAt, string QueueActivation);

    private readonly record struct EndedAhead(int Attempt, TaskOutcome Outcome, DateTimeOffset ForgetAt, bool Counted = false);

    private void EnsureRegistered()
    {
        if (!State.Registered)
        {
            throw new OrchestrationException(ProblemCodes.NotFound, $"Agent '{Id}' is not registered.");
        }
    }
}
