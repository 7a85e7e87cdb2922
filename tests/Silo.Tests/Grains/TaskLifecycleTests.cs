using System.Text.Json;
using Orchestration.Grains;
using Orchestration.Grains.Agents;
using Orchestration.Grains.Events;
using Orchestration.Grains.Tasks;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Testing;
using Orchestration.Silo.Grains;
using Orchestration.Testing;

namespace Orchestration.Silo.Tests.Grains;

/// <summary>Agents and tasks through their grains, once per storage provider; time moves only when the test says so.</summary>
public abstract class TaskLifecycleTests : IAsyncLifetime
{
    private const string Org = "acme";
    private static readonly EventActor s_operator = new("api_key", "ops");

    /// <summary>JSON that reads, but that no document or event can be written with (the API refuses it first).</summary>
    private static readonly JsonElement s_loneSurrogate = JsonDocument.Parse("\"\\ud83d\"").RootElement;

    private ProductCluster _cluster = null!;

    private protected abstract Task<StorageChoice> CreateStorageAsync();

    public async Task InitializeAsync() => _cluster = await ProductCluster.StartAsync(await CreateStorageAsync());

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Claim_ReadyTask_LeasesItWithAttemptOneAndCompleteFinishesIt()
    {
        await RegisterAsync("claude-1", "code");
        await CreateAsync("build-1", capabilities: ["code"]);

        var claimed = await ClaimAsync("claude-1");
        Assert.Equal(("build-1", TaskLifecycleStatus.Claimed, 1), (claimed!.Id, claimed.Status, claimed.Attempt));
        Assert.Equal(new TaskLease("claude-1", _cluster.Time.GetUtcNow().AddSeconds(60)), claimed.Lease);
        Assert.Equal(["build-1"], (await Agent("claude-1").GetAsync()).ActiveTaskIds);
        Assert.Equal(AgentStatus.Busy, (await Agent("claude-1").GetAsync()).Status);

        var done = await TaskGrain("build-1").CompleteAsync(new LeaseHolderCall("claude-1", 1), JsonDocument.Parse("""{"ok":true}""").RootElement);

        Assert.Equal(TaskLifecycleStatus.Completed, done.Status);
        Assert.Null(done.Lease);
        await Eventually.TrueAsync(async () => (await Agent("claude-1").GetAsync()).CompletedCount == 1);
        var types = (await _cluster.EventsAsync(Org)).Where(e => e.Subject == "tasks/build-1").Select(e => e.Type);
        Assert.Equal(["task.created", "task.ready", "task.claimed", "task.completed"], types);
    }

    [Fact]
    public async Task Claim_SeveralReady_TakesCapableThenHighestPriorityThenOldest()
    {
        await RegisterAsync("writer", "docs");
        await CreateAsync("old-low", priority: 10);
        _cluster.Time.Advance(TimeSpan.FromSeconds(1));
        await CreateAsync("needs-code", priority: 99, capabilities: ["code"]);
        await CreateAsync("new-high", priority: 80);
        _cluster.Time.Advance(TimeSpan.FromSeconds(1));
        await CreateAsync("newer-high", priority: 80);

        var order = new List<string?>();
        for (var i = 0; i < 4; i++)
        {
            var claimed = await ClaimAsync("writer");
            order.Add(claimed?.Id);
            if (claimed is not null)
            {
                await TaskGrain(claimed.Id).CompleteAsync(new LeaseHolderCall("writer", null), null);
            }
        }

        Assert.Equal(["new-high", "newer-high", "old-low", null], order);
    }

    [Fact]
    public async Task Complete_StaleAttemptOrOtherAgent_IsNotLeaseHolderAndChangesNothing()
    {
        await RegisterAsync("a1");
        await RegisterAsync("a2");
        await CreateAsync("t1");
        await ClaimAsync("a1");

        var wrongAttempt = await Assert.ThrowsAsync<OrchestrationException>(() => TaskGrain("t1").CompleteAsync(new LeaseHolderCall("a1", 2), null));
        var wrongAgent = await Assert.ThrowsAsync<OrchestrationException>(() => TaskGrain("t1").ReportProgressAsync(new LeaseHolderCall("a2", 1), 50, null));

        Assert.Equal(ProblemCodes.NotLeaseHolder, wrongAttempt.Code);
        Assert.Equal(ProblemCodes.NotLeaseHolder, wrongAgent.Code);
        var task = await TaskGrain("t1").GetAsync();
        Assert.Equal((TaskLifecycleStatus.Claimed, "a1", (int?)null), (task.Status, task.Lease!.AgentId, task.Progress?.Percent));
    }

    [Fact]
    public async Task Claim_LeaseHeld_IsTaskNotClaimable()
    {
        await RegisterAsync("a1");
        await RegisterAsync("a2");
        await CreateAsync("t1");
        await ClaimAsync("a1");

        var refused = await Assert.ThrowsAsync<OrchestrationException>(() => Queue.ClaimAsync(new ClaimTask("a2", "t1", TimeSpan.Zero)));

        Assert.Equal(ProblemCodes.TaskNotClaimable, refused.Code);
    }

    [Fact]
    public async Task LeaseExpiry_NoProgress_ReturnsTaskToReadyCountingTheAttemptAndFencesTheLateCompletion()
    {
        await RegisterAsync("slow");
        await RegisterAsync("fast");
        await CreateAsync("t1", maxAttempts: 3, leaseSeconds: 30);
        await ClaimAsync("slow");

        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(29));
        Assert.Equal(TaskLifecycleStatus.Claimed, (await TaskGrain("t1").GetAsync()).Status);
        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(1));

        Assert.Equal(TaskLifecycleStatus.Ready, (await TaskGrain("t1").GetAsync()).Status);
        var second = await ClaimAsync("fast");
        Assert.Equal(2, second!.Attempt);
        var late = await Assert.ThrowsAsync<OrchestrationException>(() => TaskGrain("t1").CompleteAsync(new LeaseHolderCall("slow", 1), null));
        Assert.Equal(ProblemCodes.NotLeaseHolder, late.Code);
        Assert.Equal(TaskLifecycleStatus.Completed, (await TaskGrain("t1").CompleteAsync(new LeaseHolderCall("fast", 2), null)).Status);
        Assert.Contains((await _cluster.EventsAsync(Org)), e => e.Type == "task.lease_expired" && e.Subject == "tasks/t1");
    }

    [Fact]
    public async Task Complete_OutputThatCannotBeWrittenOut_FailsAndTheTaskStaysClaimedUntilItsLeaseEnds()
    {
        await RegisterAsync("a-1");
        await CreateAsync("t1", leaseSeconds: 30);
        await ClaimAsync("a-1");

        // The call finishes the task in memory before its event fails to serialize; nothing was stored.
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => TaskGrain("t1").CompleteAsync(new LeaseHolderCall("a-1", 1), s_loneSurrogate));
        Assert.IsNotType<OrchestrationException>(failure);

        Assert.Equal(TaskLifecycleStatus.Claimed, (await TaskGrain("t1").GetAsync()).Status);
        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(TaskLifecycleStatus.Ready, (await TaskGrain("t1").GetAsync()).Status);
    }

    [Fact]
    public async Task Create_InputThatCannotBeWrittenOut_FailsAndLeavesNoTask()
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() =>
            TaskGrain("t1").CreateAsync(new CreateTask("t1", null, 50, [], [], s_loneSurrogate, 3, 60, null), s_operator));
        Assert.IsNotType<OrchestrationException>(failure);

        var missing = await Assert.ThrowsAsync<OrchestrationException>(() => TaskGrain("t1").GetAsync());
        Assert.Equal(ProblemCodes.NotFound, missing.Code);
        Assert.Equal(TaskLifecycleStatus.Ready, (await CreateAsync("t1")).Status);
    }

    [Fact]
    public async Task LeaseExpiry_ProgressRenewed_WaitsForTheNewExpiry()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1", leaseSeconds: 30);
        await ClaimAsync("a1");

        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(20));
        var running = await TaskGrain("t1").ReportProgressAsync(new LeaseHolderCall("a1", 1), 40, "halfway");
        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(TaskLifecycleStatus.Running, (await TaskGrain("t1").GetAsync()).Status);
        Assert.Equal(new TaskProgress(40, "halfway"), running.Progress);
        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(TaskLifecycleStatus.Ready, (await TaskGrain("t1").GetAsync()).Status);
    }

    [Fact]
    public async Task LeaseExpiry_ReminderLate_ACallOfTheHolderAfterTheExpiryIsRefusedAndEndsTheLease()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1", leaseSeconds: 30);
        await ClaimAsync("a1");
        await _cluster.RestartAsync(downtime: TimeSpan.FromSeconds(31)); // the expiry's tick is overdue, not yet fired

        var late = await Assert.ThrowsAsync<OrchestrationException>(
            () => TaskGrain("t1").ReportProgressAsync(new LeaseHolderCall("a1", 1), 90, "almost"));

        Assert.Equal(ProblemCodes.NotLeaseHolder, late.Code);
        var task = await TaskGrain("t1").GetAsync();
        Assert.Equal((TaskLifecycleStatus.Ready, (TaskLease?)null, 1), (task.Status, task.Lease, task.Attempt));
        Assert.Contains(await _cluster.EventsAsync(Org), e => e.Type == "task.lease_expired" && e.Subject == "tasks/t1");
    }

    [Fact]
    public async Task LeaseExpiry_AttemptsUsedUp_DeadLetters()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1", maxAttempts: 2, leaseSeconds: 10);

        for (var attempt = 1; attempt <= 2; attempt++)
        {
            Assert.Equal(attempt, (await ClaimAsync("a1"))!.Attempt);
            await _cluster.AdvanceAsync(TimeSpan.FromSeconds(10));
            await Eventually.TrueAsync(async () => (await Agent("a1").GetAsync()).ActiveTaskIds.Count == 0);
        }

        Assert.Equal(TaskLifecycleStatus.DeadLettered, (await TaskGrain("t1").GetAsync()).Status);
        Assert.Null(await ClaimAsync("a1"));
    }

    [Fact]
    public async Task Fail_Retryable_SchedulesABackedOffRetryThenReady()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1", maxAttempts: 3);
        await ClaimAsync("a1");

        var failed = await TaskGrain("t1").FailAsync(new LeaseHolderCall("a1", 1), "compiler crashed", retryable: true);

        Assert.Equal(TaskLifecycleStatus.Failed, failed.Status);
        var delay = failed.NextAttemptAt!.Value - _cluster.Time.GetUtcNow();
        Assert.InRange(delay, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1));
        Assert.Null(await ClaimAsync("a1"));
        await _cluster.AdvanceAsync(delay);
        Assert.Equal(TaskLifecycleStatus.Ready, (await TaskGrain("t1").GetAsync()).Status);
        Assert.Equal(2, (await ClaimAsync("a1"))!.Attempt);
    }

    [Fact]
    public async Task Fail_NotRetryable_DeadLettersAtOnce()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1", maxAttempts: 5);
        await ClaimAsync("a1");

        var failed = await TaskGrain("t1").FailAsync(new LeaseHolderCall("a1", null), "bad input", retryable: false);

        Assert.Equal((TaskLifecycleStatus.DeadLettered, "bad input"), (failed.Status, failed.Error));
        Assert.Contains((await _cluster.EventsAsync(Org)), e => e.Type == "task.dead_lettered");
    }

    [Fact]
    public async Task Release_DoesNotCountAgainstMaxAttempts()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1", maxAttempts: 1);

        for (var attempt = 1; attempt <= 3; attempt++)
        {
            await ClaimAsync("a1");
            Assert.Equal(TaskLifecycleStatus.Ready, (await TaskGrain("t1").ReleaseAsync(new LeaseHolderCall("a1", attempt))).Status);
        }

        Assert.Equal(4, (await ClaimAsync("a1"))!.Attempt);
    }

    [Fact]
    public async Task Dependencies_BlockedUntilAllComplete_AndStayBlockedWithAReasonWhenOneIsCancelled()
    {
        await RegisterAsync("a1");
        await CreateAsync("compile");
        await CreateAsync("lint");
        await CreateAsync("ship", dependsOn: ["compile", "lint"]);
        await CreateAsync("docs", dependsOn: ["lint"]);
        Assert.Equal(TaskLifecycleStatus.Blocked, (await TaskGrain("ship").GetAsync()).Status);

        await TaskGrain("lint").CancelAsync("not needed", s_operator);
        var claimed = await ClaimAsync("a1");
        await TaskGrain(claimed!.Id).CompleteAsync(new LeaseHolderCall("a1", null), null);

        Assert.Equal("compile", claimed.Id);
        // Dependents are told after the finishing call's turn (it never waits for them).
        await Eventually.TrueAsync(async () => (await TaskGrain("ship").GetAsync()).BlockedReason == "Dependency 'lint' is cancelled.");
        var ship = await TaskGrain("ship").GetAsync();
        Assert.Equal(TaskLifecycleStatus.Blocked, ship.Status);
        Assert.Equal("Dependency 'lint' is cancelled.", ship.BlockedReason);
    }

    [Fact]
    public async Task Dependencies_AllComplete_MakesTheDependentClaimable()
    {
        await RegisterAsync("a1");
        await CreateAsync("compile");
        await CreateAsync("ship", dependsOn: ["compile"]);

        await ClaimAsync("a1");
        await TaskGrain("compile").CompleteAsync(new LeaseHolderCall("a1", 1), null);

        await Eventually.TrueAsync(async () => (await TaskGrain("ship").GetAsync()).Status == TaskLifecycleStatus.Ready);
        Assert.Equal("ship", (await ClaimAsync("a1"))!.Id);
    }

    [Fact]
    public async Task Create_TwoTasksDependingOnEachOtherAtOnce_AnswerPromptlyAndNeverBothExist()
    {
        // Each create asked the other task to take it as a dependent while that one was in its own create: both waited
        // for the call's timeout (30 s). Now a task is not there for others until its dependencies know of it.
        for (var round = 0; round < 10; round++)
        {
            var (x, y) = ($"x{round}", $"y{round}");
            var creates = new[] { CreateAsync(x, dependsOn: [y]), CreateAsync(y, dependsOn: [x]) };

            await Task.WhenAll(creates).ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(TimeSpan.FromSeconds(10));

            Assert.Contains(creates, create => create.IsFaulted);
            Assert.All(creates.Where(create => create.IsFaulted), create =>
                Assert.Equal(ProblemCodes.DependencyNotFound, Assert.IsType<OrchestrationException>(create.Exception!.GetBaseException()).Code));
        }
    }

    [Fact]
    public async Task Create_RefusedForAMissingDependency_LeavesNoDependentBehindToWaitOn()
    {
        for (var round = 0; round < 5; round++)
        {
            var (a, b) = ($"a{round}", $"b{round}");
            await CreateAsync(a);
            var refused = await Assert.ThrowsAsync<OrchestrationException>(() => CreateAsync(b, dependsOn: [a, "ghost"]));
            Assert.Equal(ProblemCodes.DependencyNotFound, refused.Code);

            // Had a kept b as a dependent, cancelling a would tell b while b waits for a in its create.
            var cancel = TaskGrain(a).CancelAsync(null, s_operator);
            var create = CreateAsync(b, dependsOn: [a]);
            await Task.WhenAll(cancel, create).WaitAsync(TimeSpan.FromSeconds(10));

            await Eventually.TrueAsync(async () => (await TaskGrain(b).GetAsync()).BlockedReason == $"Dependency '{a}' is cancelled.");
        }
    }

    [Fact]
    public async Task Create_UnknownDependency_IsInvalidAndStoresNothing()
    {
        var refused = await Assert.ThrowsAsync<OrchestrationException>(() => CreateAsync("ship", dependsOn: ["ghost"]));

        Assert.Equal(ProblemCodes.DependencyNotFound, refused.Code);
        Assert.Equal(ProblemCodes.NotFound, (await Assert.ThrowsAsync<OrchestrationException>(() => TaskGrain("ship").GetAsync())).Code);
        Assert.Equal(ProblemCodes.NotFound, (await Assert.ThrowsAsync<OrchestrationException>(() => TaskGrain("ghost").GetAsync())).Code);
    }

    [Fact]
    public async Task Cancel_Finished_IsInvalidTransitionNamingTheStatus()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1");
        await ClaimAsync("a1");
        await TaskGrain("t1").CompleteAsync(new LeaseHolderCall("a1", 1), null);

        var refused = await Assert.ThrowsAsync<OrchestrationException>(() => TaskGrain("t1").CancelAsync(null, s_operator));

        Assert.Equal(ProblemCodes.InvalidTransition, refused.Code);
        Assert.Contains("completed", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Heartbeat_WindowMissed_AgentGoesOfflineAndItsLeaseReturnsCounted()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1", maxAttempts: 2, leaseSeconds: 3_600);
        await ClaimAsync("a1");

        // The queue tells the agent of its claim without waiting; let that land before the clock jumps past the
        // call's 30 s response timeout (a message still queued then would be dropped as expired).
        await Eventually.TrueAsync(async () => (await Agent("a1").GetAsync()).Status == AgentStatus.Busy);
        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(40));
        await Agent("a1").HeartbeatAsync();
        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(59));
        Assert.Equal(AgentStatus.Busy, (await Agent("a1").GetAsync()).Status);
        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(1));

        var agent = await Agent("a1").GetAsync();
        Assert.Equal((AgentStatus.Offline, 0), (agent.Status, agent.ActiveTaskIds.Count));
        var task = await TaskGrain("t1").GetAsync();
        Assert.Equal((TaskLifecycleStatus.Ready, (TaskLease?)null), (task.Status, task.Lease));
        await AssertClaimRefusedAsync("a1");
        Assert.Equal(1, agent.FailedCount);
        Assert.Equal(AgentStatus.Online, (await Agent("a1").HeartbeatAsync()).Status);
        Assert.Equal(2, (await ClaimAsync("a1"))!.Attempt);

        // Attempt 2 is the last of two only if the lost lease was counted: a retryable failure now dead-letters the task.
        var failed = await TaskGrain("t1").FailAsync(new LeaseHolderCall("a1", 2), "boom", retryable: true);
        Assert.Equal(TaskLifecycleStatus.DeadLettered, failed.Status);
    }

    [Fact]
    public async Task Heartbeat_PausedAgentMissesItsWindow_ComesBackPausedNotOnline()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1");
        await Agent("a1").PauseAsync(s_operator);

        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(AgentStatus.Offline, (await Agent("a1").GetAsync()).Status);

        Assert.Equal(AgentStatus.Paused, (await Agent("a1").HeartbeatAsync()).Status);
        await AssertClaimRefusedAsync("a1");
        await Agent("a1").ResumeAsync(s_operator);
        Assert.Equal("t1", (await ClaimAsync("a1"))!.Id);
    }

    [Fact]
    public async Task Resume_PausedAgentWhileOffline_ComesBackOnlineAndTheResumeIsAnEvent()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1");
        await Agent("a1").PauseAsync(s_operator);
        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(AgentStatus.Offline, (await Agent("a1").ResumeAsync(s_operator)).Status);
        Assert.Equal(AgentStatus.Online, (await Agent("a1").HeartbeatAsync()).Status);
        Assert.Equal("t1", (await ClaimAsync("a1"))!.Id);

        var events = (await _cluster.EventsAsync(Org)).Where(e => e.Subject == "agents/a1").ToList();
        Assert.Equal(["agent.registered", "agent.paused", "agent.offline", "agent.updated", "agent.online"], events.Select(e => e.Type));
        Assert.Equal(s_operator, events[3].Actor);

        // Resumed once, it is no longer paused: a second resume of the offline agent has nothing to resume.
        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(60));
        var refused = await Assert.ThrowsAsync<OrchestrationException>(() => Agent("a1").ResumeAsync(s_operator));
        Assert.Equal(ProblemCodes.InvalidTransition, refused.Code);
    }

    [Fact]
    public async Task Agent_EveryTransition_RaisesTheEventOfItsNewStatus()
    {
        await RegisterAsync("a1");
        await Agent("a1").PauseAsync(s_operator);
        await Agent("a1").ResumeAsync(s_operator);
        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(60));
        await Agent("a1").HeartbeatAsync();
        await RegisterAsync("a1");
        await Agent("a1").DeregisterAsync(s_operator);

        var types = (await _cluster.EventsAsync(Org)).Where(e => e.Subject == "agents/a1").Select(e => e.Type);
        Assert.Equal(["agent.registered", "agent.paused", "agent.online", "agent.offline", "agent.online", "agent.updated", "agent.deregistered"], types);
    }

    [Fact]
    public async Task Restart_ClaimNoticeLostInTheCrash_AgentCountsTheLeaseTheTaskRecorded()
    {
        await RegisterAsync("a1"); // one task at a time
        await CreateAsync("t1");
        await CreateAsync("t2");

        // A claim whose word to the agent was lost in a crash: the task committed the lease, the agent never heard of it.
        await TaskGrain("t1").ClaimAsync("a1", [], null);
        await _cluster.RestartAsync();

        Assert.Equal(["t1"], (await Agent("a1").GetAsync()).ActiveTaskIds);
        await AssertClaimRefusedAsync("a1");
        Assert.Equal(TaskLifecycleStatus.Ready, (await TaskGrain("t2").GetAsync()).Status);
    }

    [Fact]
    public async Task Heartbeat_WindowMissed_LeaseWhoseNoticeNeverCameReturnsToo()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1", leaseSeconds: 3_600);
        await Agent("a1").GetAsync(); // active, so nothing reads the held tasks back before the window ends

        // A claim whose word to the agent was lost (the queue's silo died after the commit): only the task knows.
        await TaskGrain("t1").ClaimAsync("a1", [], null);
        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(60));

        var agent = await Agent("a1").GetAsync();
        Assert.Equal((AgentStatus.Offline, 1), (agent.Status, agent.FailedCount));
        var task = await TaskGrain("t1").GetAsync();
        Assert.Equal((TaskLifecycleStatus.Ready, (TaskLease?)null), (task.Status, task.Lease));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Heartbeat_WindowMissed_LeaseWhoseNoticeCameLate_IsCountedOnce(bool endHeardFirst)
    {
        await RegisterAsync("a1");
        await CreateAsync("t1", leaseSeconds: 3_600);
        await Agent("a1").GetAsync();
        await TaskGrain("t1").ClaimAsync("a1", [], null); // its notice to the agent is late
        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(60)); // offline: the lease is given back and counted as lost
        await Agent("a1").HeartbeatAsync();
        if (endHeardFirst)
        {
            // The lost lease's end, as the task tells it (also on its own, in either order with what follows).
            await Agent("a1").TaskEndedAsync("t1", 1, TaskOutcome.Lost);
        }

        await Agent("a1").TaskClaimedAsync("t1", 1, reservation: 0); // the late notice

        var agent = await Agent("a1").GetAsync();
        Assert.Equal((1, 0), (agent.FailedCount, agent.ActiveTaskIds.Count));
        Assert.Null((await TaskGrain("t1").GetAsync()).Lease);
    }

    [Fact]
    public async Task Deregister_LeaseWhoseNoticeNeverCame_ReturnsToo()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1", leaseSeconds: 3_600);
        await Agent("a1").GetAsync();
        await TaskGrain("t1").ClaimAsync("a1", [], null);

        await Agent("a1").DeregisterAsync(s_operator);

        var task = await TaskGrain("t1").GetAsync();
        Assert.Equal((TaskLifecycleStatus.Ready, (TaskLease?)null), (task.Status, task.Lease));
    }

    [Fact]
    public async Task Bookkeeping_ClaimsAndEndsInsideTheDelay_EnforcedAtOnceAndWrittenTogetherAfterIt()
    {
        await RegisterAsync("a1"); // one task at a time
        for (var i = 0; i < 3; i++)
        {
            await CreateAsync($"t{i}");
            Assert.NotNull(await ClaimAsync("a1")); // refused if the previous end were not counted in memory yet
            await TaskGrain($"t{i}").CompleteAsync(new LeaseHolderCall("a1", 1), null);
            await Eventually.TrueAsync(async () => (await Agent("a1").GetAsync()).CompletedCount == i + 1);
        }

        Assert.Equal((AgentStatus.Online, 0), await AgentRowAsync("a1"));
        await _cluster.AdvanceAsync(AgentGrain.BookkeepingWriteDelay);

        await Eventually.TrueAsync(async () => await AgentRowAsync("a1") == (AgentStatus.Online, 3));
    }

    [Fact]
    public async Task Bookkeeping_SiloStopsInsideTheDelay_WrittenOnDeactivation()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1");
        await CreateAsync("t2");
        await ClaimAsync("a1");
        await TaskGrain("t1").CompleteAsync(new LeaseHolderCall("a1", 1), null);
        await ClaimAsync("a1");
        await Eventually.TrueAsync(async () => (await Agent("a1").GetAsync()) is { CompletedCount: 1, ActiveTaskIds: ["t2"] });

        await _cluster.RestartAsync();

        Assert.Equal((AgentStatus.Busy, 1), await AgentRowAsync("a1"));
        Assert.Equal(1, (await Agent("a1").GetAsync()).CompletedCount);
    }

    [Fact]
    public async Task Bookkeeping_DeregisteredInsideTheDelay_NoRowComesBack()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1");
        await ClaimAsync("a1");
        await Eventually.TrueAsync(async () => (await Agent("a1").GetAsync()).ActiveTaskIds.Count == 1);

        await Agent("a1").DeregisterAsync(s_operator);
        await _cluster.AdvanceAsync(AgentGrain.BookkeepingWriteDelay);
        await _cluster.RestartAsync();

        Assert.Empty((await _cluster.Projections.QueryAsync(new ProjectionQuery(AgentGrain.CollectionName, Org))).Items);
        var gone = await Assert.ThrowsAsync<OrchestrationException>(() => Agent("a1").GetAsync());
        Assert.Equal(ProblemCodes.NotFound, gone.Code);
    }

    [Fact]
    public async Task Claim_PausedAgent_IsAgentNotAvailable()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1");
        await Agent("a1").PauseAsync(s_operator);

        var refused = await Assert.ThrowsAsync<OrchestrationException>(() => ClaimAsync("a1"));

        Assert.Equal(ProblemCodes.AgentNotAvailable, refused.Code);
        await Agent("a1").ResumeAsync(s_operator);
        Assert.Equal("t1", (await ClaimAsync("a1"))!.Id);
    }

    [Fact]
    public async Task Claim_TwoAtOnceByAnAgentWithOneSlot_OnlyOneIsLeased()
    {
        await RegisterAsync("a1"); // one task at a time
        await CreateAsync("t1");
        await CreateAsync("t2");

        // The queue is reentrant: both claims ask the agent before either has told it of a lease.
        var outcomes = await Task.WhenAll(
            Enumerable.Range(0, 2).Select(async _ =>
            {
                try
                {
                    return (await ClaimAsync("a1"))?.Id;
                }
                catch (OrchestrationException e) when (e.Code == ProblemCodes.AgentNotAvailable)
                {
                    return e.Code;
                }
            }));

        Assert.Single(outcomes, outcome => outcome is "t1" or "t2");
        Assert.Single(outcomes, outcome => outcome == ProblemCodes.AgentNotAvailable);
        var leased = await Task.WhenAll(new[] { "t1", "t2" }.Select(async id => (await TaskGrain(id).GetAsync()).Lease));
        Assert.Single(leased, lease => lease is not null);
    }

    [Fact]
    public async Task Claim_WaitingClaimKeepsTheSlot_AndGivesItBackWhenItEndsEmptyHanded()
    {
        await RegisterAsync("a1"); // one task at a time
        var waiting = Queue.ClaimAsync(new ClaimTask("a1", null, TimeSpan.FromSeconds(5)));
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                await ClaimAsync("a1");
                return false;
            }
            catch (OrchestrationException e) when (e.Code == ProblemCodes.AgentNotAvailable)
            {
                return true;
            }
        });

        // Past the claim's 5 s wait, whenever in its first 15 s it arms its timer, but never near the call's 30 s timeout.
        await Eventually.TrueWhileMovingAsync(_cluster.Time, TimeSpan.FromSeconds(20), () => waiting.IsCompleted);
        Assert.Null(await waiting);
        await CreateAsync("t1");

        await Eventually.TrueAsync(async () => (await ClaimAsync("a1"))?.Id == "t1");
    }

    [Fact]
    public async Task Claim_SlotOfAClaimThatNeverReportsBack_LapsesAfterItsLifetime()
    {
        await RegisterAsync("a1"); // one task at a time
        await Agent("a1").PrepareClaimAsync(null, "q1"); // a queue that then lost its word to the agent

        var refused = await Assert.ThrowsAsync<OrchestrationException>(() => Agent("a1").PrepareClaimAsync(null, "q1"));
        Assert.Equal(ProblemCodes.AgentNotAvailable, refused.Code);
        _cluster.Time.Advance(AgentGrain.ClaimReservationLifetime / 2);
        await Agent("a1").HeartbeatAsync(); // its heartbeat window is as long as the slot's lifetime
        _cluster.Time.Advance(AgentGrain.ClaimReservationLifetime / 2);

        Assert.Equal(1, (await Agent("a1").PrepareClaimAsync(null, "q1")).FreeSlots);
    }

    [Fact]
    public async Task Claim_SlotKeptByAQueueActivationThatIsGone_IsFreedWhenTheNextOneClaims()
    {
        await RegisterAsync("a1"); // one task at a time
        await CreateAsync("t1");
        await Agent("a1").PrepareClaimAsync(null, "gone"); // the queue's earlier activation, whose silo died mid-claim

        Assert.Equal("t1", (await ClaimAsync("a1"))?.Id);
    }

    [Fact]
    public async Task Claim_LeaseTakenByAQueueActivationThatIsGone_StillFillsTheAgentsLimit()
    {
        await LeaseT1WhoseWordIsLostAsync("gone");

        var refused = await Assert.ThrowsAsync<OrchestrationException>(() => ClaimAsync("a1"));

        Assert.Equal(ProblemCodes.AgentNotAvailable, refused.Code);
        Assert.Equal("t1", Assert.Single((await Agent("a1").GetAsync()).ActiveTaskIds));
        Assert.Equal(TaskLifecycleStatus.Ready, (await TaskGrain("t2").GetAsync()).Status);
    }

    [Fact]
    public async Task Claim_FromAQueueActivationAlreadyReplaced_IsRefusedAndFreesNothing()
    {
        await RegisterAsync("a1"); // one task at a time
        var old = await Agent("a1").PrepareClaimAsync(null, "old");
        var live = await Queue.ActivationAsync();
        await Agent("a1").PrepareClaimAsync(null, live); // old lost the grain: its slot is freed, the live one keeps one

        // A turn of the old activation that outlived its hand-over looks again: it may neither claim nor free new's slot.
        var stale = await Assert.ThrowsAsync<OrchestrationException>(() => Agent("a1").PrepareClaimAsync(old.Reservation, "old"));
        Assert.Equal(ProblemCodes.AgentNotAvailable, stale.Code);
        var full = await Assert.ThrowsAsync<OrchestrationException>(() => Agent("a1").PrepareClaimAsync(null, live));
        Assert.Equal(ProblemCodes.AgentNotAvailable, full.Code);
    }

    [Fact]
    public async Task Claim_FromAnActivationTheAgentHasNotSeenAndNotTheLiveOne_IsRefusedAndTheLiveOneStillClaims()
    {
        // The agent's activation follows the live queue activation; then a turn of an activation that lost the grain
        // (its silo hung, and resumed after this agent's previous activation had forgotten it) asks for a slot.
        await Agent("a1").RegisterAsync(new RegisterAgent("a1", [], "test-model", 2, null), new EventActor("agent", "a1"));
        await CreateAsync("t1");
        Assert.Equal("t1", (await ClaimAsync("a1"))?.Id);

        var hung = await Assert.ThrowsAsync<OrchestrationException>(() => Agent("a1").PrepareClaimAsync(null, "hung"));

        Assert.Equal(ProblemCodes.AgentNotAvailable, hung.Code);
        await CreateAsync("t2");
        Assert.Equal("t2", (await ClaimAsync("a1"))?.Id);
    }

    [Fact]
    public async Task Claim_LeaseTakenByAQueueActivationThatIsGoneAfterItsSlotLapsed_StillFillsTheAgentsLimit()
    {
        await LeaseT1WhoseWordIsLostAsync("gone", leaseSeconds: 600);
        // The next claim comes after the lost one's slot lapsed (a re-run waits out its request's in-flight deadline).
        _cluster.Time.Advance(AgentGrain.ClaimReservationLifetime / 2);
        await Agent("a1").HeartbeatAsync(); // its heartbeat window is as long as the slot's lifetime
        _cluster.Time.Advance(AgentGrain.ClaimReservationLifetime / 2);

        var refused = await Assert.ThrowsAsync<OrchestrationException>(() => ClaimAsync("a1"));

        Assert.Equal(ProblemCodes.AgentNotAvailable, refused.Code);
        Assert.Equal("t1", Assert.Single((await Agent("a1").GetAsync()).ActiveTaskIds));
    }

    [Fact]
    public async Task Claim_FirstThroughANewActivationRefusedWhilePaused_ReadsBackTheHeldTasksOnceResumed()
    {
        await LeaseT1WhoseWordIsLostAsync("gone");
        await Agent("a1").PauseAsync(new EventActor("api_key", "ops"));
        await AssertClaimRefusedAsync("a1"); // through the live activation, while paused

        await Agent("a1").ResumeAsync(new EventActor("api_key", "ops"));

        await AssertClaimRefusedAsync("a1");
        Assert.Equal("t1", Assert.Single((await Agent("a1").GetAsync()).ActiveTaskIds));
    }

    [Fact]
    public async Task Claim_WhoseOutcomeIsUnknown_HasTheAgentReadBackItsHeldTasks()
    {
        var ticket = await LeaseT1WhoseWordIsLostAsync(await Queue.ActivationAsync()); // it committed, but its answer timed out
        await Agent("a1").ClaimEndedAsync(ticket.Reservation, outcomeUnknown: true);

        await AssertClaimRefusedAsync("a1");
        Assert.Equal("t1", Assert.Single((await Agent("a1").GetAsync()).ActiveTaskIds));
    }

    [Fact]
    public async Task Claim_WhoseOutcomeIsUnknownAndWhoseLeaseCommitsLate_IsCountedByTheClaimAfter()
    {
        await Agent("a1").RegisterAsync(new RegisterAgent("a1", [], "test-model", 2, null), new EventActor("agent", "a1"));
        await CreateAsync("t1");
        await CreateAsync("t2");
        await CreateAsync("t3");
        var ticket = await Agent("a1").PrepareClaimAsync(null, await Queue.ActivationAsync());
        await Agent("a1").ClaimEndedAsync(ticket.Reservation, outcomeUnknown: true); // its task's claim timed out
        var first = await ClaimAsync("a1"); // the held tasks are read back: none yet

        var late = first!.Id == "t1" ? "t2" : "t1";
        await TaskGrain(late).ClaimAsync("a1", ticket.Capabilities, null); // the timed-out claim's lease commits now

        await AssertClaimRefusedAsync("a1");
        Assert.Equal([first.Id, late], (await Agent("a1").GetAsync()).ActiveTaskIds.Order());
    }

    [Fact]
    public async Task Claim_RunAgainAnsweredWithTheFirstRunsLease_TellsTheAgent()
    {
        await RegisterAsync("a1");
        await Agent("a1").GetAsync(); // active, so the lease below is not read back on activation
        await CreateAsync("t1");
        await TaskGrain("t1").ClaimAsync("a1", [], "run-1"); // the first run's lease; its word to the agent was lost

        var rerun = await Queue.ClaimAsync(new ClaimTask("a1", null, TimeSpan.Zero) { ClaimToken = "run-1", IsRerun = true });

        Assert.Equal("t1", rerun?.Id);
        await Eventually.TrueAsync(async () => (await Agent("a1").GetAsync()).ActiveTaskIds.Contains("t1"), "the agent holds t1");
    }

    [Fact]
    public async Task Claim_NoticeOfAReplacedActivationsLeaseAfterItEnded_NeitherHoldsNorCountsItAgain()
    {
        await RegisterAsync("a1"); // one task at a time
        await CreateAsync("t1");
        var old = await Agent("a1").PrepareClaimAsync(null, "old");
        var leased = await TaskGrain("t1").ClaimAsync("a1", old.Capabilities, null); // its notice is late
        await Assert.ThrowsAsync<OrchestrationException>(() => ClaimAsync("a1")); // a new activation: t1 is read back
        await TaskGrain("t1").CompleteAsync(new LeaseHolderCall("a1", leased.Attempt), null);
        await Eventually.TrueAsync(async () => (await Agent("a1").GetAsync()).CompletedCount == 1);

        await Agent("a1").TaskClaimedAsync("t1", leased.Attempt, old.Reservation);

        var agent = await Agent("a1").GetAsync();
        Assert.Equal((0, 1), (agent.ActiveTaskIds.Count, agent.CompletedCount));
        await CreateAsync("t2");
        Assert.Equal("t2", (await ClaimAsync("a1"))?.Id);
    }

    [Fact]
    public async Task Claim_Waiting_AnswersAsSoonAsAMatchingTaskIsReady()
    {
        await RegisterAsync("a1", "code");
        var waiting = Queue.ClaimAsync(new ClaimTask("a1", null, TimeSpan.FromSeconds(20)));
        await CreateAsync("not-mine", capabilities: ["gpu"]);
        Assert.False(waiting.IsCompleted);

        await CreateAsync("mine", capabilities: ["code"]);

        Assert.Equal("mine", (await waiting.WaitAsync(TimeSpan.FromSeconds(10)))!.Id);
    }

    [Fact]
    public async Task Claim_WaitingAndNothingComes_AnswersNullAtTheDeadline()
    {
        await RegisterAsync("a1");
        var waiting = Queue.ClaimAsync(new ClaimTask("a1", null, TimeSpan.FromSeconds(5)));
        Assert.False(waiting.IsCompleted);

        // The claim's delay may not be armed yet when the clock first moves: keep moving it a second at a time.
        await Eventually.TrueWhileMovingAsync(_cluster.Time, TimeSpan.FromSeconds(20), () => waiting.IsCompleted);

        Assert.Null(await waiting);
    }

    [Fact]
    public async Task Restart_LeasesAndRetriesPending_ReminderFireAfterRestart()
    {
        await RegisterAsync("a1");
        await RegisterAsync("a2");
        await CreateAsync("leased", leaseSeconds: 30);
        await CreateAsync("retrying", maxAttempts: 3);
        await Queue.ClaimAsync(new ClaimTask("a1", "leased", TimeSpan.Zero));
        await Queue.ClaimAsync(new ClaimTask("a2", "retrying", TimeSpan.Zero));
        var failed = await TaskGrain("retrying").FailAsync(new LeaseHolderCall("a2", 1), "flaky", retryable: true);

        await _cluster.RestartAsync();
        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(30));

        Assert.True(_cluster.Time.GetUtcNow() >= failed.NextAttemptAt);
        Assert.Equal(TaskLifecycleStatus.Ready, (await TaskGrain("leased").GetAsync()).Status);
        Assert.Equal(TaskLifecycleStatus.Ready, (await TaskGrain("retrying").GetAsync()).Status);
        Assert.NotNull(await ClaimAsync("a2"));
    }

    [Fact]
    public async Task Queue_Restart_RebuildsEveryReadyTaskInClaimOrder()
    {
        const int tasks = 60;
        await Agent("a1").RegisterAsync(new RegisterAgent("a1", [], "test-model", tasks + 1, null), new EventActor("agent", "a1"));
        for (var i = 0; i < tasks; i++)
        {
            await CreateAsync($"t{i:D3}", priority: i % 5);
        }

        await _cluster.RestartAsync();
        var claimed = new List<string>();
        while (await ClaimAsync("a1") is { } task)
        {
            claimed.Add(task.Id);
        }

        // Created at one instant (the test clock stands still): highest priority first, then by id.
        var expected = Enumerable.Range(0, tasks).OrderByDescending(i => i % 5).ThenBy(i => i).Select(i => $"t{i:D3}");
        Assert.Equal(expected, claimed);
    }

    [Fact]
    public async Task Claim_RunAgainOfAnUnansweredClaim_AnswersTheLeaseThatRunTookNotASecondTask()
    {
        // An Api that died after the lease was taken never answered; the client's retry (same Idempotency-Key, so the
        // same claim token) must find that lease, though the agent's one slot is full with it.
        await RegisterAsync("a1");
        await CreateAsync("t1");
        await CreateAsync("t2");
        var first = await Queue.ClaimAsync(new ClaimTask("a1", null, TimeSpan.Zero) { ClaimToken = "run-1" });

        var rerun = await Queue.ClaimAsync(new ClaimTask("a1", null, TimeSpan.Zero) { ClaimToken = "run-1", IsRerun = true });
        var another = await Assert.ThrowsAsync<OrchestrationException>(
            () => Queue.ClaimAsync(new ClaimTask("a1", null, TimeSpan.Zero) { ClaimToken = "run-2", IsRerun = true }));

        Assert.Equal((first!.Id, first.Attempt), (rerun!.Id, rerun.Attempt));
        Assert.Equal(ProblemCodes.AgentNotAvailable, another.Code);
        Assert.Equal(TaskLifecycleStatus.Ready, (await TaskGrain(first.Id == "t1" ? "t2" : "t1").GetAsync()).Status);
    }

    [Fact]
    public async Task Queue_ResyncFindsATaskWhoseOfferWasLost_AndServesTheWaitingClaim()
    {
        await RegisterAsync("a1");
        await CreateAsync("indexed", capabilities: ["gpu"]); // stays in the index (a1 cannot take it): the resync reads ids only
        await CreateAsync("lost");
        await Queue.TaskWithdrawnAsync("lost"); // the index forgets it, as when an offer is lost to a crash; its row says ready
        Assert.Null(await ClaimAsync("a1"));

        _cluster.Time.Advance(TaskQueueGrain.ResyncInterval - TimeSpan.FromSeconds(10));
        var asked = _cluster.Time.GetUtcNow();
        var waiting = Queue.ClaimAsync(new ClaimTask("a1", null, TaskQueueGrain.MaxWait));
        Assert.False(waiting.IsCompleted);

        // A second at a time: the resync (30 s after the queue's activation) comes 10 s after the claim was asked, well
        // before its deadline; the clock stops 20 s after that, however long the resync's read takes (a loaded machine
        // once carried it past the call's 30 s timeout).
        await Eventually.TrueWhileMovingAsync(_cluster.Time, TimeSpan.FromSeconds(20), () => waiting.IsCompleted);

        Assert.Equal("lost", (await waiting)?.Id);
        Assert.True(_cluster.Time.GetUtcNow() - asked < TaskQueueGrain.MaxWait, "served when the resync found it, not at the claim's deadline");
    }

    [Fact]
    public async Task Projection_Tasks_ListedByStatusAndOwnerWithoutActivatingGrains()
    {
        await RegisterAsync("a1");
        await CreateAsync("t1");
        await CreateAsync("t2");
        await ClaimAsync("a1");

        var claimed = await _cluster.Projections.QueryAsync(new ProjectionQuery("tasks", Org) { Owner = "a1" });
        var ready = await _cluster.Projections.QueryAsync(new ProjectionQuery("tasks", Org) { Status = "ready" });
        var otherOrg = await _cluster.Projections.QueryAsync(new ProjectionQuery("tasks", "other"));

        Assert.Equal(["t1"], claimed.Items.Select(row => row.Id));
        Assert.Equal("claimed", claimed.Items[0].Status);
        Assert.Equal(["t2"], ready.Items.Select(row => row.Id));
        Assert.Empty(otherOrg.Items);
        var view = JsonSerializer.Deserialize(claimed.Items[0].Document, GrainContractsJsonContext.Default.TaskView)!;
        Assert.Equal((TaskLifecycleStatus.Claimed, 1), (view.Status, view.Attempt));
    }

    [Fact]
    public async Task Race_ManyAgentsClaimingConcurrently_EveryTaskCompletedExactlyOnce()
    {
        const int agents = 100;
        const int tasks = 2_000;
        await Task.WhenAll(Enumerable.Range(0, agents).Select(i => RegisterAsync($"agent-{i}")));
        await Task.WhenAll(Enumerable.Range(0, tasks).Select(i => CreateAsync($"task-{i:D4}", priority: i % 100)));

        var completions = new System.Collections.Concurrent.ConcurrentBag<(string Task, string Agent)>();
        await Task.WhenAll(Enumerable.Range(0, agents).Select(async i =>
        {
            var agentId = $"agent-{i}";
            while (await ClaimAsync(agentId) is { } claimed)
            {
                await TaskGrain(claimed.Id).CompleteAsync(new LeaseHolderCall(agentId, claimed.Attempt), null);
                completions.Add((claimed.Id, agentId));
            }
        }));

        Assert.Equal(tasks, completions.Count);
        Assert.Equal(tasks, completions.Select(c => c.Task).Distinct().Count());
        var claims = (await _cluster.EventsAsync(Org)).Count(e => e.Type == "task.claimed");
        Assert.Equal(tasks, claims);
    }

    [Fact]
    public async Task Race_RandomLeaseExpiriesAndLateCompletions_EveryTaskCompletedOnceAndEveryLateCallFenced()
    {
        const int agents = 20;
        const int tasks = 300;
        var random = new Random(20261122);
        await Task.WhenAll(Enumerable.Range(0, agents).Select(i => RegisterAsync($"agent-{i}")));
        await Task.WhenAll(Enumerable.Range(0, tasks).Select(i => CreateAsync($"task-{i:D3}", maxAttempts: 1_000, leaseSeconds: 10)));

        var completed = new System.Collections.Concurrent.ConcurrentBag<string>();
        var lateRefused = 0;
        while (completed.Count < tasks)
        {
            // Each agent claims; about a third stall and come back after their lease has expired.
            var stallers = Enumerable.Range(0, agents).Select(_ => random.NextDouble() < 0.35).ToArray();
            var stalled = new System.Collections.Concurrent.ConcurrentBag<(string Agent, TaskView Task)>();
            await Task.WhenAll(Enumerable.Range(0, agents).Select(async i =>
            {
                var agentId = $"agent-{i}";
                if (await ClaimAsync(agentId) is not { } claimed)
                {
                    return;
                }

                if (stallers[i])
                {
                    stalled.Add((agentId, claimed));
                    return;
                }

                await TaskGrain(claimed.Id).CompleteAsync(new LeaseHolderCall(agentId, claimed.Attempt), null);
                completed.Add(claimed.Id);
            }));

            await Task.WhenAll(Enumerable.Range(0, agents).Select(i => Agent($"agent-{i}").HeartbeatAsync()));
            await _cluster.AdvanceAsync(TimeSpan.FromSeconds(10));
            foreach (var (agentId, task) in stalled)
            {
                var late = await Assert.ThrowsAsync<OrchestrationException>(() => TaskGrain(task.Id).CompleteAsync(new LeaseHolderCall(agentId, task.Attempt), null));
                Assert.Equal(ProblemCodes.NotLeaseHolder, late.Code);
                lateRefused++;
            }

            await Eventually.TrueAsync(async () => (await Task.WhenAll(Enumerable.Range(0, agents).Select(i => Agent($"agent-{i}").GetAsync()))).All(a => a.ActiveTaskIds.Count == 0));
        }

        Assert.Equal(tasks, completed.Distinct().Count());
        Assert.Equal(tasks, completed.Count);
        Assert.True(lateRefused > 0, "some leases expired under their agents");
        var events = await _cluster.EventsAsync(Org);
        Assert.Equal(tasks, events.Count(e => e.Type == "task.completed"));
        Assert.Equal(lateRefused, events.Count(e => e.Type == "task.lease_expired"));
    }

    private ITaskQueueGrain Queue => _cluster.Grains.GetGrain<ITaskQueueGrain>(Org);

    private IAgentGrain Agent(string id) => _cluster.Grains.GetGrain<IAgentGrain>($"{Org}/{id}");

    /// <summary>The agent as its list row shows it (what was written, not the activation's memory).</summary>
    private async Task<(AgentStatus Status, int CompletedCount)> AgentRowAsync(string id)
    {
        var row = (await _cluster.Projections.QueryAsync(new ProjectionQuery(AgentGrain.CollectionName, Org))).Items.Single(row => row.Id == id);
        var view = JsonSerializer.Deserialize(row.Document, GrainContractsJsonContext.Default.AgentView)!;
        return (view.Status, view.CompletedCount);
    }

    private ITaskGrain TaskGrain(string id) => _cluster.Grains.GetGrain<ITaskGrain>($"{Org}/{id}");

    private Task<AgentRegistration> RegisterAsync(string id, params string[] capabilities) =>
        Agent(id).RegisterAsync(new RegisterAgent(id, capabilities, "test-model", 1, null), new EventActor("agent", id));

    private Task<TaskView> CreateAsync(
        string id,
        int priority = 50,
        string[]? capabilities = null,
        string[]? dependsOn = null,
        int maxAttempts = 3,
        int leaseSeconds = 60) =>
        TaskGrain(id).CreateAsync(new CreateTask(id, null, priority, capabilities ?? [], dependsOn ?? [], null, maxAttempts, leaseSeconds, null), s_operator);

    /// <summary>
    /// Agent a1 (one task at a time) and tasks t1 and t2; a claim through <paramref name="queueActivation"/> leased t1 and
    /// its word to the agent was lost (the queue's silo died, or the claim's answer timed out).
    /// </summary>
    private async Task<ClaimTicket> LeaseT1WhoseWordIsLostAsync(string queueActivation, int leaseSeconds = 60)
    {
        await RegisterAsync("a1");
        await CreateAsync("t1", leaseSeconds: leaseSeconds);
        await CreateAsync("t2");
        var ticket = await Agent("a1").PrepareClaimAsync(null, queueActivation);
        await TaskGrain("t1").ClaimAsync("a1", ticket.Capabilities, null);
        return ticket;
    }

    private Task<TaskView?> ClaimAsync(string agentId) => Queue.ClaimAsync(new ClaimTask(agentId, null, TimeSpan.Zero));

    private async Task AssertClaimRefusedAsync(string agentId)
    {
        var refused = await Assert.ThrowsAsync<OrchestrationException>(() => ClaimAsync(agentId));
        Assert.Equal(ProblemCodes.AgentNotAvailable, refused.Code);
    }
}

public sealed class MemoryTaskLifecycleTests : TaskLifecycleTests
{
    private protected override Task<StorageChoice> CreateStorageAsync() => Task.FromResult<StorageChoice>(new StorageChoice.Memory());
}

public sealed class SqliteTaskLifecycleTests : TaskLifecycleTests
{
    private protected override Task<StorageChoice> CreateStorageAsync() => Task.FromResult<StorageChoice>(new StorageChoice.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresTaskLifecycleTests(PostgresServerFixture postgres) : TaskLifecycleTests
{
    private protected override async Task<StorageChoice> CreateStorageAsync() =>
        new StorageChoice.Postgres(await postgres.Server.CreateDatabaseAsync());
}
