using Microsoft.Data.Sqlite;
using Orchestration.Grains;
using Orchestration.Grains.Agents;
using Orchestration.Grains.Events;
using Orchestration.Grains.Tasks;
using Orchestration.Runtime;
using Orchestration.Runtime.Testing;
using Orchestration.Testing;

namespace Orchestration.Silo.Tests.Grains;

/// <summary>
/// An agent that goes offline or is deregistered gives back every lease it holds, even when revoking one fails or the
/// process dies before it could. A revocation fails here as it would if the task had been written elsewhere since its
/// activation read it: the test bumps the task's stored version (SQLite), so the task's next write is refused.
/// </summary>
public sealed class AgentGrainTests : IAsyncLifetime
{
    private const string Org = "acme";
    private static readonly EventActor s_operator = new("api_key", "ops");

    private readonly StorageChoice.Sqlite _storage = new();
    private ProductCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await ProductCluster.StartAsync(_storage);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task ReceiveReminder_WentOfflineAndRevokingFailedBeforeACrash_RevokesTheLeaseAfterRestart()
    {
        await HoldLeaseAsync("a1", "t1");
        await RefuseNextWriteAsync("t1");

        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(60));
        var offline = await Agent("a1").GetAsync();
        Assert.Equal("a1", (await TaskGrain("t1").GetAsync()).Lease?.AgentId);
        await _cluster.RestartAsync();
        await _cluster.AdvanceAsync(TimeSpan.FromMinutes(1));

        Assert.Equal((AgentStatus.Offline, 0), (offline.Status, offline.ActiveTaskIds.Count));
        var task = await TaskGrain("t1").GetAsync();
        Assert.Equal((TaskLifecycleStatus.Ready, (TaskLease?)null, 1), (task.Status, task.Lease, task.Attempt));
    }

    [Fact]
    public async Task DeregisterAsync_RevokingFailedBeforeACrash_RevokesTheLeaseAfterRestart()
    {
        await HoldLeaseAsync("a1", "t1");
        await RefuseNextWriteAsync("t1");

        await Assert.ThrowsAsync<InconsistentStateException>(() => Agent("a1").DeregisterAsync(s_operator));
        await _cluster.RestartAsync();
        await _cluster.AdvanceAsync(TimeSpan.FromMinutes(1));

        var task = await TaskGrain("t1").GetAsync();
        Assert.Equal((TaskLifecycleStatus.Ready, (TaskLease?)null), (task.Status, task.Lease));
        var gone = await Assert.ThrowsAsync<OrchestrationException>(() => Agent("a1").GetAsync());
        Assert.Equal(ProblemCodes.NotFound, gone.Code);
    }

    [Fact]
    public async Task HeartbeatAsync_OfflineWithALeaseNotYetRevoked_RevokesItFirstAndALaterClaimKeepsItsLease()
    {
        await HoldLeaseAsync("a1", "t1");
        await RefuseNextWriteAsync("t1");
        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(60));

        await Agent("a1").HeartbeatAsync();
        var released = await TaskGrain("t1").GetAsync();
        var reclaimed = await Queue.ClaimAsync(new ClaimTask("a1", null, TimeSpan.Zero));

        // Past the revocation's retry, still inside the heartbeat window.
        await _cluster.AdvanceAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(TaskLifecycleStatus.Ready, released.Status);
        Assert.Equal(("t1", 2), (reclaimed?.Id, reclaimed?.Attempt));
        var task = await TaskGrain("t1").GetAsync();
        Assert.Equal((TaskLifecycleStatus.Claimed, "a1", 2), (task.Status, task.Lease?.AgentId, task.Attempt));
    }

    [Fact]
    public async Task PrepareClaimAsync_AWaitingClaimOutlivedTheAgentsActivation_ANewClaimsEndDoesNotFreeItsSlot()
    {
        await Agent("a1").RegisterAsync(new RegisterAgent("a1", [], "test-model", 2, null), new EventActor("agent", "a1"));
        var waiting = (await Agent("a1").PrepareClaimAsync(null, "q1")).Reservation;
        await _cluster.RestartAsync(); // the agent's activation goes; the waiting claim does not

        await Agent("a1").PrepareClaimAsync(waiting, "q1"); // it looks again, keeping its reservation
        var another = (await Agent("a1").PrepareClaimAsync(null, "q1")).Reservation;
        await Agent("a1").ClaimEndedAsync(another, outcomeUnknown: false); // empty-handed
        await Agent("a1").PrepareClaimAsync(null, "q1");

        var refused = await Assert.ThrowsAsync<OrchestrationException>(() => Agent("a1").PrepareClaimAsync(null, "q1"));
        Assert.Equal(ProblemCodes.AgentNotAvailable, refused.Code);
    }

    [Fact]
    public async Task TaskClaimedAsync_ANoticeOfAnAttemptThatEndedComesAgain_NeitherHoldsNorCountsIt()
    {
        await Agent("a1").RegisterAsync(new RegisterAgent("a1", [], "test-model", 2, null), new EventActor("agent", "a1"));
        await Agent("a1").TaskClaimedAsync("t1", 1, (await Agent("a1").PrepareClaimAsync(null, "q1")).Reservation);
        await Agent("a1").TaskEndedAsync("t1", 1, TaskOutcome.Completed);

        await Agent("a1").TaskClaimedAsync("t1", 1, 0); // a re-run's notice of the same claim

        var view = await Agent("a1").GetAsync();
        Assert.Equal((AgentStatus.Online, 0, 1), (view.Status, view.ActiveTaskIds.Count, view.CompletedCount));
    }

    [Fact]
    public async Task TaskEndedAsync_ArrivesBeforeItsClaimsNotice_CountedOnceAndNotHeld()
    {
        await Agent("a1").RegisterAsync(new RegisterAgent("a1", [], "test-model", 2, null), new EventActor("agent", "a1"));
        var reservation = (await Agent("a1").PrepareClaimAsync(null, "q1")).Reservation;

        // The task completed attempt 1 and told the agent before the queue's notice of the claim arrived.
        await Agent("a1").TaskEndedAsync("t1", 1, TaskOutcome.Completed);
        await Agent("a1").TaskClaimedAsync("t1", 1, reservation);

        var view = await Agent("a1").GetAsync();
        Assert.Equal((AgentStatus.Online, 0, 1, 0), (view.Status, view.ActiveTaskIds.Count, view.CompletedCount, view.FailedCount));
    }

    [Fact]
    public async Task TaskClaimedAsync_AnEarlierAttemptEndedAhead_HoldsTheNewAttempt()
    {
        await Agent("a1").RegisterAsync(new RegisterAgent("a1", [], "test-model", 2, null), new EventActor("agent", "a1"));
        await Agent("a1").TaskEndedAsync("t1", 1, TaskOutcome.Lost); // a lease the agent no longer knew of
        var reservation = (await Agent("a1").PrepareClaimAsync(null, "q1")).Reservation;

        await Agent("a1").TaskClaimedAsync("t1", 2, reservation);

        var view = await Agent("a1").GetAsync();
        Assert.Equal((AgentStatus.Busy, "t1", 0, 0), (view.Status, Assert.Single(view.ActiveTaskIds), view.CompletedCount, view.FailedCount));
    }

    [Fact]
    public async Task TaskEndedAsync_AnEarlierAttemptsEndAfterTheNextClaim_KeepsTheNewAttemptAndCountsBoth()
    {
        await Agent("a1").RegisterAsync(new RegisterAgent("a1", [], "test-model", 2, null), new EventActor("agent", "a1"));
        await Agent("a1").TaskClaimedAsync("t1", 1, (await Agent("a1").PrepareClaimAsync(null, "q1")).Reservation);

        // Attempt 1 was lost and a1 claimed t1 again (attempt 2); the queue's notice overtook the task's end of 1.
        await Agent("a1").TaskClaimedAsync("t1", 2, (await Agent("a1").PrepareClaimAsync(null, "q1")).Reservation);
        await Agent("a1").TaskEndedAsync("t1", 1, TaskOutcome.Lost);
        var whileAttempt2Runs = await Agent("a1").GetAsync();
        await Agent("a1").TaskEndedAsync("t1", 2, TaskOutcome.Completed);
        var after = await Agent("a1").GetAsync();

        Assert.Equal(("t1", 1), (Assert.Single(whileAttempt2Runs.ActiveTaskIds), whileAttempt2Runs.FailedCount));
        Assert.Equal((0, 1, 1), (after.ActiveTaskIds.Count, after.CompletedCount, after.FailedCount));
    }

    private ITaskQueueGrain Queue => _cluster.Grains.GetGrain<ITaskQueueGrain>(Org);

    private IAgentGrain Agent(string id) => _cluster.Grains.GetGrain<IAgentGrain>($"{Org}/{id}");

    private ITaskGrain TaskGrain(string id) => _cluster.Grains.GetGrain<ITaskGrain>($"{Org}/{id}");

    private async Task HoldLeaseAsync(string agentId, string taskId)
    {
        await Agent(agentId).RegisterAsync(new RegisterAgent(agentId, [], "test-model", 1, null), new EventActor("agent", agentId));
        await TaskGrain(taskId).CreateAsync(new CreateTask(taskId, null, 50, [], [], null, 3, 3_600, null), s_operator);
        Assert.Equal(taskId, (await Queue.ClaimAsync(new ClaimTask(agentId, null, TimeSpan.Zero)))?.Id);

        // The queue tells the agent of its claim without waiting: let that land before the clock moves.
        await Eventually.TrueAsync(async () => (await Agent(agentId).GetAsync()).Status == AgentStatus.Busy);
    }

    private async Task RefuseNextWriteAsync(string taskId)
    {
        await using var connection = new SqliteConnection($"Data Source={_storage.Path}");
        await connection.OpenAsync();
        await using var bump = connection.CreateCommand();
        bump.CommandText = "UPDATE orch_grain_state SET version = version + 1 WHERE grain_type = 'task' AND grain_key = $key;";
        bump.Parameters.AddWithValue("$key", $"{Org}/{taskId}");
        Assert.Equal(1, await bump.ExecuteNonQueryAsync());
    }
}
