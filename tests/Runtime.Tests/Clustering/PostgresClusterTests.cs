using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Clustering;
using Orchestration.Runtime.Placement;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Clustering;

/// <summary>
/// Silos and a client as separate runtimes on one PostgreSQL, talking over the real transport: calls reach the owner
/// from anywhere, a grain is active only on the silo that serves its partition, and a silo leaving hands its grains
/// over with no failed call and no lost write.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresClusterTests(PostgresServerFixture postgres) : IAsyncLifetime
{
    private readonly ActivationCensus _census = new();
    private SiloProcesses _silos = null!;

    public async Task InitializeAsync() => _silos = await SiloProcesses.CreateAsync(postgres);

    public async Task DisposeAsync() => await _silos.DisposeAsync();

    [Fact]
    public async Task Call_FromAClient_RunsOnTheOwningSiloOnly()
    {
        var a = await StartAsync("silo-a", servesPartitions: true);
        var b = await StartAsync("silo-b", servesPartitions: true);
        await WhenSharedAsync(a, b);
        var client = await StartAsync("api", servesPartitions: false);

        var keys = Enumerable.Range(0, 40).Select(i => $"counter-{i}").ToArray();
        foreach (var key in keys)
        {
            Assert.Equal(1, await client.GrainFactory.GetGrain<ITickingCounterGrain>(key).IncrementAsync());
        }

        foreach (var key in keys)
        {
            var grain = new GrainId(GrainTypeOf<TickingCounterGrain>(), key);
            var owner = a.Cluster!.Keeper!.TryGetAccepting(ClusterPartitions.Of(grain)) is not null ? a : b;
            var other = owner == a ? b : a;
            Assert.True(owner.Directory.TryGet(grain, out _), $"{key} is not active on its owner");
            Assert.False(other.Directory.TryGet(grain, out _), $"{key} is active on a silo that does not own it");
            Assert.False(client.Directory.TryGet(grain, out _), $"{key} is active on the client");
        }

        Assert.Contains(keys, key => a.Directory.TryGet(new GrainId(GrainTypeOf<TickingCounterGrain>(), key), out _));
        Assert.Contains(keys, key => b.Directory.TryGet(new GrainId(GrainTypeOf<TickingCounterGrain>(), key), out _));

        // The cluster view, asked of any process: both silos, their partitions, and each one's own activation counts. The
        // view is the answering silo's last lease round (at most one round behind the keepers).
        var management = client.GrainFactory.GetGrain<Management.IManagementGrain>(Management.IManagementGrain.DefaultKey);
        List<Management.SiloStatus> silos = [];
        await Eventually.TrueAsync(
            async () =>
            {
                silos = [.. (await management.GetClusterStatusAsync()).Silos.Where(silo => silo.Status == "active").OrderBy(silo => silo.SiloId)];
                return silos.Sum(silo => silo.OwnedPartitions) == ClusterPartitions.Count;
            },
            "the cluster view shows every partition held");
        Assert.Equal(["silo-a", "silo-b"], silos.Select(silo => silo.SiloId));
        Assert.Equal(a.Directory.Count, silos[0].ActivationCount);
        Assert.Equal(b.Directory.Count, silos[1].ActivationCount);
        Assert.Equal(keys.Length, silos.Sum(silo => silo.ActivationsByGrainType.GetValueOrDefault(GrainTypeOf<TickingCounterGrain>())));
    }

    [Fact]
    public async Task Call_GrainThrows_TheCallerGetsTheSameExceptionTypeAndMessage()
    {
        var a = await StartAsync("silo-a", servesPartitions: true);
        var client = await StartAsync("api", servesPartitions: false);
        await WhenSharedAsync(a);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => client.GrainFactory.GetGrain<IFaultyGrain>("f").ThrowAfterAwaitAsync("boom"));
        Assert.Equal("boom", error.Message);
    }

    [Fact]
    public async Task Call_FromAnotherProcess_CarriesTheCallersTraceIntoTheGrainAndItsCalls()
    {
        var a = await StartAsync("silo-a", servesPartitions: true);
        var b = await StartAsync("silo-b", servesPartitions: true);
        var client = await StartAsync("api", servesPartitions: false);
        await WhenSharedAsync(a, b);
        using var root = new System.Diagnostics.Activity("request").Start();

        var seen = await client.GrainFactory.GetGrain<ITracedGrain>("remote-a").CallAsync("remote-b");

        Assert.Equal(root.TraceId.ToHexString(), seen);
    }

    [Fact]
    public async Task Call_GrainBlocksItsThread_TheSiloStillAnswersOtherCallsFromTheSameClient()
    {
        var a = await StartAsync("silo-a", servesPartitions: true);
        var client = await StartAsync("api", servesPartitions: false);
        await WhenSharedAsync(a);
        var gate = Guid.NewGuid().ToString();

        // The silo reads requests on its connections' read loops; the grain runs on its activation, never there.
        var blocked = client.GrainFactory.GetGrain<IThreadBlockingGrain>("held").BlockThreadAsync(gate);
        Assert.True(await Task.Run(() => ThreadBlockingGrain.Entered(gate).Wait(TimeSpan.FromSeconds(20))), "the blocking call never started");
        try
        {
            // Round-robin over the client's connections: some of these share the blocked call's connection.
            var others = Enumerable.Range(0, 8).Select(i => client.GrainFactory.GetGrain<ITickingCounterGrain>($"free-{i}").IncrementAsync());
            Assert.All(await Task.WhenAll(others).WaitAsync(TimeSpan.FromSeconds(20)), count => Assert.Equal(1, count));
        }
        finally
        {
            ThreadBlockingGrain.Gate(gate).Set();
        }

        await blocked;
    }

    [Fact]
    public async Task Leave_UnderSteadyCalls_HandsEveryGrainOverWithoutAFailedCallOrALostWrite()
    {
        var a = await StartAsync("silo-a", servesPartitions: true);
        var b = await StartAsync("silo-b", servesPartitions: true);
        await WhenSharedAsync(a, b);
        var client = await StartAsync("api", servesPartitions: false);
        var keys = Enumerable.Range(0, 20).Select(i => $"steady-{i}").ToArray();
        var counts = new int[keys.Length];
        var failures = new List<Exception>();
        using var stop = new CancellationTokenSource();

        var traffic = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                for (var i = 0; i < keys.Length; i++)
                {
                    try
                    {
                        counts[i] = await client.GrainFactory.GetGrain<ITickingCounterGrain>(keys[i]).IncrementAsync();
                    }
                    catch (Exception exception)
                    {
                        lock (failures)
                        {
                            failures.Add(exception);
                        }
                    }
                }
            }
        });

        await Task.Delay(TimeSpan.FromSeconds(1));
        await b.StopAsync(CancellationToken.None); // graceful: drain, write, release, leave
        await Task.Delay(TimeSpan.FromSeconds(1));
        await stop.CancelAsync();
        await traffic;

        Assert.Empty(failures);
        Assert.Equal(ClusterPartitions.Count, a.Cluster!.Keeper!.Held.Count);
        for (var i = 0; i < keys.Length; i++)
        {
            // Every acknowledged increment is in the stored count: the next call continues from it.
            Assert.Equal(counts[i] + 1, await client.GrainFactory.GetGrain<ITickingCounterGrain>(keys[i]).IncrementAsync());
        }
    }

    /// <summary>
    /// A one-shot reminder whose tick is running when its partition is handed over (a silo joins, or the owner leaves)
    /// completes under the period it ran in: deleted there, not fired again by the next owner.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task OneShotReminder_TickRunningWhileItsPartitionIsHandedOver_FiresOnce(bool ownerLeaves)
    {
        var probe = new GrainProbe();
        var type = Runtime.Activations.GrainClassInfo.ToTypeName(typeof(SlowAlarmGrain));
        // A key whose partition the first silo hands to the second when it joins.
        var key = Enumerable.Range(0, 10_000).Select(i => $"handed-{i}")
            .First(k => RankOf("silo-a", ClusterPartitions.Of(new GrainId(type, k))) < ClusterPartitions.Count / 2);
        var partition = ClusterPartitions.Of(new GrainId(type, key));
        var a = await StartAsync("silo-a", servesPartitions: true, probe: probe);
        await WhenSharedAsync(a);
        await a.GrainFactory.GetGrain<ISlowAlarmGrain>(key).SetReminderAsync("once", TimeSpan.FromMilliseconds(200), TimeSpan.Zero);
        await probe.WaitForAsync($"enter:{key}:once"); // the tick runs on the first silo, held

        var b = await StartAsync("silo-b", servesPartitions: true, probe: probe);
        var leaving = ownerLeaves ? a.StopAsync(CancellationToken.None) : Task.CompletedTask;
        await Eventually.TrueAsync(() => Task.FromResult(a.Cluster!.Keeper!.TryGetAccepting(partition) is null), "the first silo hands the partition over");
        probe.Record($"release:{key}"); // the tick completes during the hand-over

        await leaving;
        await Eventually.TrueAsync(() => Task.FromResult(b.Cluster!.Keeper!.TryGetAccepting(partition) is not null), "the second silo serves the partition");
        await b.Reminders.TakeOverAsync([b.Cluster!.Keeper!.TryGetAccepting(partition)!], [], CancellationToken.None); // what it does on taking the partition, done once more
        await b.Reminders.WhenIdleAsync();

        Assert.Single(probe.Events, entry => entry == $"enter:{key}:once");
        Assert.Empty(await b.Storage.ReadRemindersAsync(dueBy: null, CancellationToken.None));
    }

    /// <summary>
    /// A silo frozen in time (as by SIGSTOP: its clock does not move, so its leases look valid to it) while the database
    /// hands its partitions to another silo: when it runs again, its writes reach the database with the old epoch and
    /// are refused there — counted, nothing stored — and the grain's state is what the new owner sees.
    /// </summary>
    [Fact]
    public async Task Write_FromAFrozenSiloAfterItsPartitionMoved_RefusedByTheEpochAndCounted()
    {
        var frozenClock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var frozen = await StartAsync("silo-frozen", servesPartitions: true, frozenClock);
        var counter = frozen.GrainFactory.GetGrain<ITickingCounterGrain>("fenced");
        Assert.Equal(1, await counter.IncrementAsync()); // activated on the frozen silo, in its lease period

        // The frozen silo renews nothing; its leases lapse in the database and the other silo takes every partition.
        var survivor = await StartAsync("silo-survivor", servesPartitions: true);
        await Eventually.TrueAsync(() => Task.FromResult(survivor.Cluster!.Keeper!.Held.Count == ClusterPartitions.Count), "the survivor holds every partition");

        var refused = await Assert.ThrowsAsync<GrainOwnershipLostException>(() => counter.IncrementAsync());
        Assert.Contains("newer epoch", refused.Message); // refused by the database's check, not by the silo's own clock
        Assert.True(frozen.Instruments.FencedWrites >= 1);

        var fromSurvivor = survivor.GrainFactory.GetGrain<ITickingCounterGrain>("fenced");
        Assert.Equal(2, await fromSurvivor.IncrementAsync()); // the refused increment left no trace
    }

    private static string GrainTypeOf<T>() => Runtime.Activations.GrainClassInfo.ToTypeName(typeof(T));

    private Task<SiloRuntime> StartAsync(string siloId, bool servesPartitions, TimeProvider? clock = null, GrainProbe? probe = null) =>
        _silos.StartAsync(siloId, servesPartitions, services =>
        {
            if (clock is not null)
            {
                services.AddSingleton(clock);
            }

            services.AddSingleton(probe ?? new GrainProbe());
            services.AddSingleton(_census);
        });

    private static int RankOf(string siloId, int partition) =>
        Enumerable.Range(0, ClusterPartitions.Count)
            .OrderBy(p => RendezvousHash.Weight(siloId, new GrainId("partition", p.ToString(System.Globalization.CultureInfo.InvariantCulture))))
            .ToList()
            .IndexOf(partition);

    /// <summary>Lease rounds run until the silos hold every partition between them.</summary>
    private static async Task WhenSharedAsync(params SiloRuntime[] silos) =>
        await Eventually.TrueAsync(
            () => Task.FromResult(silos.Sum(silo => silo.Cluster!.Keeper!.Held.Count) == ClusterPartitions.Count
                && silos.All(silo => silo.Cluster!.Keeper!.Held.Count >= ClusterPartitions.Count / silos.Length)),
            "the silos share every partition");
}
