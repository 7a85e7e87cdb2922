using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Streams;

/// <summary>Events committed by another process reach this one's followers, through LISTEN/NOTIFY and polling.</summary>
[Collection(PostgresCollection.Name)]
public sealed class CrossProcessStreamTests(PostgresServerFixture postgres) : IAsyncLifetime
{
    private string _connectionString = null!;
    private TestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _connectionString = await postgres.Server.CreateDatabaseAsync();
        // A long poll interval: the first events must arrive by notification, well before any poll.
        _cluster = await TestClusterFactory.StartAsync(new GrainProbe(), builder => builder.UsePostgresStorage(_connectionString),
            options: options => options.EventPollInterval = TimeSpan.FromMinutes(5));
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task FollowAsync_EventsPublishedByAnotherProcess_ArriveLiveInOrderAndResumeFromASequence()
    {
        var log = _cluster.Silos[0].Services.GetRequiredService<IStreamLog>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var live = log.FollowAsync(0, "cross", stop.Token).GetAsyncEnumerator(stop.Token);
        var firstLive = live.MoveNextAsync();

        await using var worker = WorkerProcess.Start("publish", "postgres", _connectionString);
        Assert.Equal("ready", await worker.ReadLineAsync());
        var numbers = new List<int>();
        var sequences = new List<long>();
        Assert.True(await firstLive);
        do
        {
            numbers.Add(JsonDocument.Parse(live.Current.Data).RootElement.GetProperty("number").GetInt32());
            sequences.Add(live.Current.Sequence);
        }
        while (numbers.Count < 20 && await live.MoveNextAsync());
        worker.CloseInput();

        Assert.Equal(Enumerable.Range(1, 20), numbers);
        Assert.Equal(sequences.Order(), sequences);

        await using var resumed = log.FollowAsync(sequences[9], "cross", stop.Token).GetAsyncEnumerator(stop.Token);
        Assert.True(await resumed.MoveNextAsync());
        Assert.Equal(sequences[10], resumed.Current.Sequence);
    }
}
