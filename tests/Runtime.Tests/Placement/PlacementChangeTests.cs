using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Placement;

/// <summary>When the set of silos changes, a grain still has at most one activation in the whole cluster.</summary>
public sealed class PlacementChangeTests : IAsyncLifetime
{
    private const int Counters = 100;

    private readonly GrainProbe _probe = new();
    private readonly ActivationCensus _census = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestClusterFactory.StartAsync(_probe, census: _census);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task StartSilo_ActiveCountersWithTimers_OneActivationPerKeyAtEveryStep()
    {
        var keys = Enumerable.Range(0, Counters).Select(i => $"org/c{i}").ToArray();
        var expected = new int[Counters];
        await CallEveryCounterAsync(keys, expected);
        Assert.Equal(Counters, _cluster.Silos[0].ActivationCount);

        var joining = _cluster.StartSiloAsync();
        var rounds = 0;
        while (!joining.IsCompleted || rounds < 10)
        {
            await CallEveryCounterAsync(keys, expected);
            AssertAtMostOneActivationPerKey(keys);
            rounds++;
        }

        var joined = await joining;
        for (var i = 0; i < 5; i++)
        {
            await CallEveryCounterAsync(keys, expected);
            AssertAtMostOneActivationPerKey(keys);
        }

        Assert.Equal(1, _census.MaxPerKey);
        Assert.InRange(joined.ActivationCount, 1, Counters - 1);
        Assert.Equal(Counters, _cluster.Silos.Sum(silo => silo.ActivationCount));
        Assert.All(keys, key => Assert.Equal(1, _census.Live(key)));
    }

    [Fact]
    public async Task StartSilo_GrainThatMoves_DeactivatesOnItsOldSiloWithReasonPlacementChanged()
    {
        var keys = Enumerable.Range(0, 40).Select(i => $"org/m{i}").ToArray();
        await Task.WhenAll(keys.Select(key => _cluster.GrainFactory.GetGrain<ICounterGrain>(key).IncrementAsync()));

        var joined = await _cluster.StartSiloAsync();
        await Task.WhenAll(keys.Select(key => _cluster.GrainFactory.GetGrain<ICounterGrain>(key).IncrementAsync()));

        var moved = joined.Runtime.Directory.All.Select(activation => activation.GrainId.Key).ToList();
        Assert.NotEmpty(moved);
        Assert.All(moved, key => Assert.Equal(1, _probe.Count($"deactivate:{key}:{DeactivationReason.PlacementChanged}")));
        Assert.Equal(keys.Length - moved.Count, _cluster.Silos[0].ActivationCount);
    }

    [Fact]
    public async Task Deliver_CallRoutedToTheOldOwnerJustBeforeASiloJoined_RunsOnTheNewOwnerOnly()
    {
        var oldOwner = _cluster.Silos[0];
        var joined = await _cluster.StartSiloAsync();
        var key = Enumerable.Range(0, 1000).Select(i => $"org/late-{i}")
            .First(candidate => !oldOwner.Runtime.Router!.IsLocal(oldOwner.Runtime, new GrainId("counter", candidate)));
        var grainId = new GrainId("counter", key);
        var method = Runtime.Calls.GrainMethod.ForInterfaceMethod(typeof(ICounterGrain).GetMethod(nameof(ICounterGrain.IncrementAsync))!);
        var message = new Runtime.Calls.GrainMessage<int>(method, [], oldOwner.Runtime.TimeProvider.GetTimestamp());

        oldOwner.Runtime.Dispatcher.DeliverLocally(grainId, message); // as if routed before the join

        Assert.Equal(1, await message.Task.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.False(oldOwner.Runtime.Directory.TryGet(grainId, out _));
        Assert.True(joined.Runtime.Directory.TryGet(grainId, out _));
        Assert.Equal(1, _probe.Count($"activate:{key}"));
    }

    private async Task CallEveryCounterAsync(string[] keys, int[] expected)
    {
        var results = await Task.WhenAll(keys.Select(key => _cluster.GrainFactory.GetGrain<ITickingCounterGrain>(key).IncrementAsync()));
        for (var i = 0; i < keys.Length; i++)
        {
            expected[i]++;
            Assert.Equal(expected[i], results[i]);
        }
    }

    private void AssertAtMostOneActivationPerKey(string[] keys)
    {
        var perKey = _cluster.Silos
            .SelectMany(silo => silo.Runtime.Directory.All)
            .Where(activation => activation.GrainId.Type == "tickingcounter")
            .GroupBy(activation => activation.GrainId.Key)
            .ToDictionary(group => group.Key, group => group.Count());
        Assert.All(keys, key => Assert.InRange(perKey.GetValueOrDefault(key), 0, 1));
        Assert.Equal(1, _census.MaxPerKey);
    }
}
