using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Activations;
using Orchestration.Runtime.Clustering;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Tests.Clustering;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Streams;

/// <summary>
/// An implicit subscription's leadership (the lease of its partition) moves between two real silos while one key has a
/// backlog: the consumer must see that key's events in order, never from two silos at once. One key, so the cursor the
/// old leader stores is exactly what it delivered, and the next leader resumes right after it.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ImplicitStreamLeadershipTests(PostgresServerFixture postgres) : IAsyncLifetime
{
    private const int Total = 400;
    private static readonly string s_subscriber = $"implicit/{GrainClassInfo.ToTypeName(typeof(OrderedConsumerGrain))}/ordered";
    private static readonly int s_leadership = ClusterPartitions.Of(new GrainId("stream-subscription", s_subscriber));

    private readonly GrainProbe _probe = new();
    private SiloProcesses _silos = null!;

    public async Task InitializeAsync() => _silos = await SiloProcesses.CreateAsync(postgres);

    public async Task DisposeAsync() => await _silos.DisposeAsync();

    [Fact]
    public async Task Delivery_LeadershipMovesToAJoiningSilo_EachKeysEventsArriveInOrder()
    {
        // When a second silo joins, the first hands over its lowest-weight half: this id puts the leadership there.
        var a = await StartAsync(SiloIdWhoseHalf(keeps: false));
        await Eventually.TrueAsync(() => Task.FromResult(a.Cluster!.Keeper!.Held.Count == ClusterPartitions.Count), "a holds every partition");
        await PublishBacklogAsync(a);

        var b = await StartAsync("silo-b");
        await Eventually.TrueAsync(() => Task.FromResult(b.Cluster!.Keeper!.TryGetAccepting(s_leadership) is not null), "b leads the subscription");

        await AssertDeliveredInOrderAsync();
    }

    [Fact]
    public async Task Delivery_LeaderLeavesGracefully_EachKeysEventsArriveInOrder()
    {
        var a = await StartAsync(SiloIdWhoseHalf(keeps: true));
        await Eventually.TrueAsync(() => Task.FromResult(a.Cluster!.Keeper!.Held.Count == ClusterPartitions.Count), "a holds every partition");
        var b = await StartAsync("silo-b");
        await Eventually.TrueAsync(
            () => Task.FromResult(a.Cluster!.Keeper!.Held.Count + b.Cluster!.Keeper!.Held.Count == ClusterPartitions.Count
                && b.Cluster.Keeper.Held.Count == ClusterPartitions.Count / 2),
            "a and b share the partitions");
        Assert.NotNull(a.Cluster!.Keeper!.TryGetAccepting(s_leadership));
        await PublishBacklogAsync(a);

        await a.StopAsync(CancellationToken.None);

        await AssertDeliveredInOrderAsync();
    }

    [Fact]
    public async Task Drain_LeaderHandsOverWhileADeliveryIsInFlight_ReleasesThePartitionOnlyOnceTheRunEnded()
    {
        // The join moves the leadership but not the consumer's activation, so only the run can hold the partition back.
        var held = ClusterPartitions.Of(new GrainId(GrainClassInfo.ToTypeName(typeof(OrderedConsumerGrain)), "held"));
        var aId = Enumerable.Range(0, 1000).Select(i => $"silo-a{i}")
            .First(id => SiloProcesses.RankOf(id, s_leadership) < ClusterPartitions.Count / 2 && SiloProcesses.RankOf(id, held) >= ClusterPartitions.Count / 2);
        var a = await StartAsync(aId);
        await Eventually.TrueAsync(() => Task.FromResult(a.Cluster!.Keeper!.Held.Count == ClusterPartitions.Count), "a holds every partition");
        var stream = a.Services.GetRequiredService<IStreamProvider>().GetStream<int>(new StreamId("ordered", "held"));
        for (var i = 1; i <= 5; i++)
        {
            await stream.OnNextAsync(i);
        }

        await _probe.WaitForAsync("ordered:held:1"); // in flight until released

        var b = await StartAsync("silo-b");
        await Eventually.TrueAsync(
            () => Task.FromResult(b.Cluster!.Keeper!.Held.Count == ClusterPartitions.Count / 2 - 1
                && a.Cluster!.Keeper!.Held.Any(lease => lease.Partition == s_leadership && lease.IsDraining)),
            "b took every partition handed over but the subscription's, which is draining");
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // three lease rounds
        Assert.Null(b.Cluster!.Keeper!.TryGetAccepting(s_leadership));
        Assert.Equal(["ordered:held:1"], _probe.Events.Where(entry => entry.StartsWith("ordered:held:", StringComparison.Ordinal)));

        _probe.Record("release:held");
        await Eventually.TrueAsync(() => Task.FromResult(b.Cluster.Keeper.TryGetAccepting(s_leadership) is not null), "b leads the subscription");
        await Eventually.TrueAsync(() => Task.FromResult(_probe.Count("ordered:held:5") == 1), "b delivers the rest");
        // The old run stored the cursor after event 1 before it let go, so b resumes right after it.
        Assert.Equal(
            ["ordered:held:1", "ordered:held:2", "ordered:held:3", "ordered:held:4", "ordered:held:5"],
            _probe.Events.Where(entry => entry.StartsWith("ordered:held:", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Delivery_LeaseLost_NoFurtherDeliveryStartsFromTheBuffer()
    {
        var a = await StartAsync("silo-a0");
        await Eventually.TrueAsync(() => Task.FromResult(a.Cluster!.Keeper!.Held.Count == ClusterPartitions.Count), "a holds every partition");
        await PublishBacklogAsync(a);

        // What the keeper does when a renewal finds the lease gone: the period ends and its partition is discarded.
        var lease = a.Cluster!.Keeper!.TryGetAccepting(s_leadership)!;
        lease.End();
        ((PartitionedClusterRouter)a.Router!).Discard(lease);
        var atLoss = Delivered().Count;

        await Task.Delay(TimeSpan.FromMilliseconds(500)); // room for 30 more deliveries of the buffered backlog
        Assert.InRange(Delivered().Count, atLoss, atLoss + 1); // the one in flight at most
        Assert.True(Delivered().Count < Total);
    }

    [Fact]
    public async Task Drain_DeliveryQueuedBehindATurnOfAConsumerInTheSamePartition_HandedOverPromptly()
    {
        // The consumer lives in the subscription's own partition, so its delivery must run there before the hand-over:
        // handed on, it would wait for the partition's next owner, which waits for the run to end.
        var type = GrainClassInfo.ToTypeName(typeof(BusyConsumerGrain));
        var leadership = ClusterPartitions.Of(new GrainId("stream-subscription", $"implicit/{type}/busy"));
        var key = Enumerable.Range(0, 100_000).Select(i => $"k{i}").First(k => ClusterPartitions.Of(new GrainId(type, k)) == leadership);
        var a = await StartAsync(Enumerable.Range(0, 1000).Select(i => $"silo-a{i}").First(id => SiloProcesses.RankOf(id, leadership) < ClusterPartitions.Count / 2));
        await Eventually.TrueAsync(() => Task.FromResult(a.Cluster!.Keeper!.Held.Count == ClusterPartitions.Count), "a holds every partition");
        var hold = a.GrainFactory.GetGrain<IBusyConsumerGrain>(key).HoldAsync();
        await _probe.WaitForAsync("busy:hold");
        await a.Services.GetRequiredService<IStreamProvider>().GetStream<int>(new StreamId("busy", key)).OnNextAsync(1);
        await Task.Delay(500); // the delivery is queued behind HoldAsync

        var b = await StartAsync("silo-b");
        await Eventually.TrueAsync(
            () => Task.FromResult(a.Cluster!.Keeper!.Held.Any(lease => lease.Partition == leadership && lease.IsDraining)),
            "a drains the subscription's partition");
        _probe.Record("release:busy");
        await hold;
        var released = Stopwatch.StartNew();

        await Eventually.TrueAsync(
            () => Task.FromResult(_probe.Events.Any(entry => entry.StartsWith($"busy:{key}:", StringComparison.Ordinal))),
            "the event is delivered");
        Assert.True(released.Elapsed < TimeSpan.FromSeconds(5), $"delivered {released.Elapsed} after the turn ended");
        await Eventually.TrueAsync(() => Task.FromResult(b.Cluster!.Keeper!.TryGetAccepting(leadership) is not null), "b leads the subscription");
        Assert.Single(_probe.Events, entry => entry.StartsWith($"busy:{key}:", StringComparison.Ordinal));
    }

    /// <summary>Publishes the backlog to key <c>k</c> and waits until its delivery is under way.</summary>
    private async Task PublishBacklogAsync(SiloRuntime silo)
    {
        var stream = silo.Services.GetRequiredService<IStreamProvider>().GetStream<int>(new StreamId("ordered", "k"));
        for (var i = 1; i <= Total; i++)
        {
            await stream.OnNextAsync(i);
        }

        await Eventually.TrueAsync(() => Task.FromResult(Delivered().Count >= 20), "the first leader delivers");
    }

    /// <summary>Waits until every event arrived and deliveries stopped, then checks the order they arrived in.</summary>
    private async Task AssertDeliveredInOrderAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var last = -1;
        for (var quiet = 0; quiet < 10 && DateTime.UtcNow < deadline;)
        {
            await Task.Delay(100);
            var delivered = Delivered();
            quiet = delivered.Count == last && delivered.Distinct().Count() == Total ? quiet + 1 : 0;
            last = delivered.Count;
        }

        var seen = Delivered();
        var firstRegression = Enumerable.Range(1, Math.Max(0, seen.Count - 1)).FirstOrDefault(i => seen[i] <= seen[i - 1]);
        Assert.True(
            firstRegression == 0,
            $"{seen.Count} deliveries of {Total} events, {seen.Zip(seen.Skip(1)).Count(pair => pair.Second <= pair.First)} out of order: "
            + string.Join(",", seen.Skip(Math.Max(0, firstRegression - 10)).Take(40)));
        Assert.Equal(Total, seen.Distinct().Count());
    }

    private List<long> Delivered() =>
        [.. _probe.Events.Where(entry => entry.StartsWith("ordered:k:", StringComparison.Ordinal))
            .Select(entry => long.Parse(entry["ordered:k:".Length..], CultureInfo.InvariantCulture))];

    /// <summary>
    /// An id that sorts before <c>silo-b</c> and whose half kept when <c>silo-b</c> joins (its highest-weight partitions)
    /// does or does not hold the subscription's leadership.
    /// </summary>
    private static string SiloIdWhoseHalf(bool keeps) =>
        Enumerable.Range(0, 1000).Select(i => $"silo-a{i}").First(id => (SiloProcesses.RankOf(id, s_leadership) >= ClusterPartitions.Count / 2) == keeps);

    private Task<SiloRuntime> StartAsync(string siloId) =>
        _silos.StartAsync(siloId, servesPartitions: true, services =>
        {
            services.AddSingleton(_probe);
            services.AddSingleton(new ActivationCensus());
        });
}
