using Orchestration.Grains.Agents;
using Orchestration.Grains.Events;
using Orchestration.Grains.Tasks;
using Orchestration.Runtime;
using Orchestration.Runtime.Testing;
using Orchestration.Testing;

namespace Orchestration.Silo.Tests.Grains;

/// <summary>
/// The task queue at its activation's hard limit: waiting claims (long-polls running inside the reentrant queue grain)
/// count against it, and offers, counted apart, still get through to end them.
/// </summary>
public sealed class TaskQueueLimitTests : IAsyncLifetime
{
    private const string Org = "acme";
    private const int HardLimit = 4;

    private ProductCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await ProductCluster.StartAsync(
        new StorageChoice.Memory(),
        options =>
        {
            options.MaxEnqueuedRequestsSoftLimit = HardLimit;
            options.MaxEnqueuedRequestsHardLimit = HardLimit;
        });

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Offer_WaitingClaimsHoldTheQueueAtItsHardLimit_StillReachesTheQueueAndServesAClaim()
    {
        for (var i = 0; i <= HardLimit; i++)
        {
            await RegisterAsync($"agent-{i}"); // one at a time: the low limit applies to every grain
        }

        var waiting = Enumerable.Range(0, HardLimit)
            .Select(i => Queue.ClaimAsync(new ClaimTask($"agent-{i}", null, TimeSpan.FromSeconds(20))))
            .ToList();
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                await Queue.ClaimAsync(new ClaimTask($"agent-{HardLimit}", null, TimeSpan.Zero));
                return false;
            }
            catch (GrainOverloadedException)
            {
                return true;
            }
        }, "the waiting claims fill the queue grain");

        await TaskGrain("t1").CreateAsync(new CreateTask("t1", null, 50, [], [], null, 3, 60, null), new EventActor("api_key", "ops"));

        var served = await Task.WhenAny(waiting).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("t1", (await served)!.Id);
        await Eventually.TrueWhileMovingAsync(_cluster.Time, TimeSpan.FromSeconds(25), () => waiting.All(claim => claim.IsCompleted),
            "the other claims end empty-handed at their deadline");
        Assert.All(waiting.Where(claim => claim != served), claim => Assert.Null(claim.Result));
    }

    [Fact]
    public async Task WaitingClaim_WokenByOffersItCannotTake_LeavesNoTimerBehindOnceServed()
    {
        await _cluster.Grains.GetGrain<IAgentGrain>($"{Org}/gpu-agent")
            .RegisterAsync(new RegisterAgent("gpu-agent", ["gpu"], "test-model", 1, null), new EventActor("agent", "gpu-agent"));
        var deadline = _cluster.Time.GetUtcNow() + TimeSpan.FromSeconds(20);
        var claim = Queue.ClaimAsync(new ClaimTask("gpu-agent", null, TimeSpan.FromSeconds(20)));
        await Eventually.TrueAsync(() => Task.FromResult(_cluster.Time.TimersDueAt(deadline) == 1), "the claim waits");

        for (var i = 0; i < 3; i++)
        {
            await TaskGrain($"tpu-{i}").CreateAsync(new CreateTask($"tpu-{i}", null, 50, ["tpu"], [], null, 3, 60, null), new EventActor("api_key", "ops"));
        }

        await TaskGrain("gpu-1").CreateAsync(new CreateTask("gpu-1", null, 50, ["gpu"], [], null, 3, 60, null), new EventActor("api_key", "ops"));
        Assert.Equal("gpu-1", (await claim.WaitAsync(TimeSpan.FromSeconds(20)))!.Id);

        Assert.Equal(0, _cluster.Time.TimersDueAt(deadline));
    }

    private ITaskQueueGrain Queue => _cluster.Grains.GetGrain<ITaskQueueGrain>(Org);

    private ITaskGrain TaskGrain(string id) => _cluster.Grains.GetGrain<ITaskGrain>($"{Org}/{id}");

    private Task<AgentRegistration> RegisterAsync(string id) =>
        _cluster.Grains.GetGrain<IAgentGrain>($"{Org}/{id}").RegisterAsync(new RegisterAgent(id, [], "test-model", 1, null), new EventActor("agent", id));
}
