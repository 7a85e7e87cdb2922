using Orchestration.Runtime.Activations;
using Orchestration.Runtime.Clustering;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Clustering;

/// <summary>An activation started in a lease period never outlives that period, however late its call added it.</summary>
public sealed class LeasedActivationTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestClusterFactory.StartAsync(_probe);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task GetOrAdd_PeriodClosedAfterTheCallsCheck_TheActivationLeavesAndTheNextCallGetsAFreshOne(bool ended)
    {
        var runtime = _cluster.Silos[0].Runtime;
        var grain = new GrainId(GrainClassInfo.ToTypeName(typeof(TickingCounterGrain)), $"late-{ended}");
        Assert.True(runtime.Registry.TryGetClass(grain.Type, out var grainClass));
        var lease = new PartitionLease(ClusterPartitions.Of(grain), epoch: 1, deadline: long.MaxValue);

        // The call found the period accepting; before it added the activation, the period's hand-over began (the drain
        // looked, found nothing and finished) or the period ended (the discard looked and found nothing).
        if (ended)
        {
            lease.End();
        }
        else
        {
            lease.BeginDrain();
        }

        var late = runtime.Directory.GetOrAdd(grain, grainClass, lease);

        // Marked invalid first, then taken out of the directory: both, before a call may find a fresh one.
        await Eventually.TrueAsync(
            () => Task.FromResult(late.IsInvalid && !(runtime.Directory.TryGet(grain, out var current) && current == late)),
            "the activation added after its period closed leaves the directory");
        Assert.Equal(1, await _cluster.GrainFactory.GetGrain<ITickingCounterGrain>(grain.Key).IncrementAsync());
    }
}
