using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Activations;
using Orchestration.Runtime.Clustering;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Clustering;

/// <summary>Calls made by a turn whose partition is being handed over to a joining silo (two real silos on Postgres).</summary>
[Collection(PostgresCollection.Name)]
public sealed class HandOverCallTests(PostgresServerFixture postgres) : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private SiloProcesses _silos = null!;

    public async Task InitializeAsync() => _silos = await SiloProcesses.CreateAsync(postgres);

    public async Task DisposeAsync() => await _silos.DisposeAsync();

    [Fact]
    public async Task Drain_TurnCallsAnInactiveGrainOfItsOwnPartition_TheCallRunsThereAndTheHandOverCompletes()
    {
        // Sent to the partition's next owner, the call would wait for the hand-over, which waits for this turn: until
        // the call's timeout (30 s).
        var relay = new GrainId(GrainClassInfo.ToTypeName(typeof(RelayGrain)), "relay");
        var partition = ClusterPartitions.Of(relay);
        var gateType = GrainClassInfo.ToTypeName(typeof(GateGrain));
        var peer = Enumerable.Range(0, 100_000).Select(i => $"peer{i}").First(key => ClusterPartitions.Of(new GrainId(gateType, key)) == partition);
        var a = await StartAsync(Enumerable.Range(0, 1000).Select(i => $"silo-a{i}").First(id => SiloProcesses.RankOf(id, partition) < ClusterPartitions.Count / 2));
        await Eventually.TrueAsync(() => Task.FromResult(a.Cluster!.Keeper!.Held.Count == ClusterPartitions.Count), "a holds every partition");
        var call = a.GrainFactory.GetGrain<IRelayGrain>(relay.Key).HoldThenCallAsync(peer);
        await _probe.WaitForAsync("relay:hold");

        var b = await StartAsync("silo-b");
        await Eventually.TrueAsync(
            () => Task.FromResult(a.Cluster!.Keeper!.Held.Any(lease => lease.Partition == partition && lease.IsDraining)),
            "a hands the relay's partition over");
        _probe.Record("release:relay");
        var released = Stopwatch.StartNew();

        Assert.Equal(0, await call.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.True(released.Elapsed < TimeSpan.FromSeconds(5), $"the call answered {released.Elapsed} after the turn went on");
        await Eventually.TrueAsync(() => Task.FromResult(b.Cluster!.Keeper!.TryGetAccepting(partition) is not null), "b takes the partition");
        Assert.False(a.Directory.TryGet(new GrainId(gateType, peer), out _), "the activation made during the hand-over went with it");
        Assert.Equal(0, await b.GrainFactory.GetGrain<IPlainGateGrain>(peer).GetStartedCountAsync());
    }

    private Task<SiloRuntime> StartAsync(string siloId) =>
        _silos.StartAsync(siloId, servesPartitions: true, services =>
        {
            services.AddSingleton(_probe);
            services.AddSingleton(new ActivationCensus());
        });
}
