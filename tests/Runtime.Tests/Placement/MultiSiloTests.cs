using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Placement;

/// <summary>Several silos in one test cluster: rendezvous placement, one activation per grain, failover from storage.</summary>
public sealed class MultiSiloTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private readonly StorageChoice.Sqlite _file = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestClusterFactory.StartAsync(_probe, _file.Apply, siloCount: 3);

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _file.DisposeAsync();
    }

    [Fact]
    public async Task Call_FromAnySilo_ReachesTheOneActivationOnItsOwner()
    {
        var ids = new HashSet<string>();
        foreach (var silo in _cluster.Silos)
        {
            ids.Add(await silo.GrainFactory.GetGrain<ICounterGrain>("shared").GetActivationIdAsync());
        }

        Assert.Single(ids);
        Assert.Equal(1, _cluster.Silos.Sum(silo => Activations(silo, "counter")));
    }

    [Fact]
    public async Task Placement_ManyGrains_SpreadOverEverySilo()
    {
        await Task.WhenAll(Enumerable.Range(0, 300).Select(i => _cluster.GrainFactory.GetGrain<ICounterGrain>($"spread-{i}").IncrementAsync()));

        var counts = _cluster.Silos.Select(silo => Activations(silo, "counter")).ToList();

        Assert.Equal(300, counts.Sum());
        Assert.All(counts, count => Assert.InRange(count, 50, 150));
    }

    [Fact]
    public async Task StopSilo_ItsGrainsReactivateOnSurvivorsFromStorage()
    {
        var profiles = Enumerable.Range(0, 30).Select(i => _cluster.GrainFactory.GetGrain<IProfileGrain>($"org/p{i}")).ToList();
        await Task.WhenAll(profiles.Select((profile, i) => profile.RenameAsync($"name {i}")));
        var leaving = _cluster.Silos[1];
        var movedBefore = Activations(leaving, "profile");

        await _cluster.StopSiloAsync(leaving);
        var names = await Task.WhenAll(profiles.Select(profile => profile.GetAsync()));

        Assert.True(movedBefore > 0, "some grains lived on the stopped silo");
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"name {i}"), names.Select(profile => profile.Name));
        Assert.Equal(30, _cluster.Silos.Where(silo => !silo.IsStopped).Sum(silo => Activations(silo, "profile")));
    }

    private static int Activations(TestSilo silo, string grainType) =>
        silo.Runtime.Directory.All.Count(activation => activation.GrainId.Type == grainType);
}
