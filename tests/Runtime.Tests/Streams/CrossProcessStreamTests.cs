using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Streams;

/// <summary>Events committed by another process reach this one's followers, through LISTEN/NOTIFY and polling.</summary>
[Collection(PostgresCollection.Name)]
public sealed class CrossProcessStreamTests(PostgresServerFixture postgres) : IAsyncLifetime
{
    // A long poll interval: events must arrive by notification, well before any poll.
    private static readonly TimeSpan s_pollInterval = TimeSpan.FromMinutes(5);

    private string _connectionString = null!;
    private TestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _connectionString = await postgres.Server.CreateDatabaseAsync();
        _cluster = await TestClusterFactory.StartAsync(new GrainProbe(), builder => builder.UsePostgresStorage(_connectionString),
            options: options => options.EventPollInterval = s_pollInterval);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task FollowAsync_EventsPublishedByAnotherProcess_ArriveLiveInOrderAndResumeFromASequence()
    {
        var log = _cluster.Silos[0].Services.GetRequiredService<IStreamLog>();
        var streamLog = _cluster.Silos[0].Runtime.StreamLog;
        // What the log itself publishes, before any follower's de-duplication by sequence.
        var published = streamLog.Subscribe("cross");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await using var live = log.FollowAsync(0, "cross", cancellationToken: stop.Token).GetAsyncEnumerator(stop.Token);
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

            // The worker is the only writer of a fresh database: its events are sequences 1, 2, 3, … exactly.
            Assert.Equal(Enumerable.Range(1, 20), numbers);
            Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), sequences);
            var publishedSequences = new List<long>();
            while (publishedSequences.Count < 20)
            {
                publishedSequences.Add((await published.Reader.ReadAsync(stop.Token)).Sequence);
            }

            Assert.Equal(sequences, publishedSequences);

            await using var resumed = log.FollowAsync(sequences[9], "cross", cancellationToken: stop.Token).GetAsyncEnumerator(stop.Token);
            Assert.True(await resumed.MoveNextAsync());
            Assert.Equal(sequences[10], resumed.Current.Sequence);
        }
        finally
        {
            streamLog.Unsubscribe(published);
        }
    }

    [Fact]
    public async Task FollowAsync_ListenConnectionTerminated_ListenerReconnectsAndNotificationsArriveAgain()
    {
        var log = _cluster.Silos[0].Services.GetRequiredService<IStreamLog>();
        var killed = 0;
        await Eventually.TrueAsync(async () => (killed = await ListenerPidAsync()) != 0, "the listener connects");

        await using (var admin = new NpgsqlConnection(_connectionString))
        {
            await admin.OpenAsync();
            await using var terminate = new NpgsqlCommand("SELECT pg_terminate_backend($1)", admin) { Parameters = { new() { Value = killed } } };
            Assert.True((bool)(await terminate.ExecuteScalarAsync())!);
        }

        await Eventually.TrueAsync(async () => await ListenerPidAsync() is var pid && pid != 0 && pid != killed, "the listener reconnects");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var follower = log.FollowAsync(log.LastSequence, "relisten", cancellationToken: stop.Token).GetAsyncEnumerator(stop.Token);
        var first = follower.MoveNextAsync();
        await using var other = await TestClusterFactory.StartAsync(new GrainProbe(), builder => builder.UsePostgresStorage(_connectionString),
            options: options => options.EventPollInterval = s_pollInterval);
        var stream = other.Silos[0].Services.GetRequiredService<IStreamProvider>().GetStream<int>(new StreamId("relisten", "k"));
        for (var i = 1; i <= 3; i++)
        {
            await stream.OnNextAsync(i);
        }

        var received = new List<string>();
        Assert.True(await first);
        do
        {
            received.Add(follower.Current.Data);
        }
        while (received.Count < 3 && await follower.MoveNextAsync());

        Assert.Equal(["1", "2", "3"], received);
    }

    /// <summary>The backend of this database's LISTEN connection (0 when there is none).</summary>
    private async Task<int> ListenerPidAsync()
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var query = new NpgsqlCommand(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND query ILIKE 'LISTEN%'", connection)
        {
            Parameters = { new() { Value = PostgresNotificationListener.ApplicationName } },
        };
        return await query.ExecuteScalarAsync() is int pid ? pid : 0;
    }
}
