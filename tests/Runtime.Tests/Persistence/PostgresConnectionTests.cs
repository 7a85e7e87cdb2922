using Npgsql;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Persistence;

/// <summary>How the Postgres provider holds its connections: a fixed, warm commit set and a capped read pool.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresConnectionTests(PostgresServerFixture postgres) : IAsyncLifetime
{
    /// <summary>The provider's <see cref="IGrainStorage.MaxConcurrentCommits"/>: one commit connection each.</summary>
    private const int CommitSlots = 2;

    /// <summary>This test's own connections, left out when counting the provider's.</summary>
    private const string ObserverApplicationName = "orchestration-tests";

    private const string ProviderBackends =
        $"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name <> '{ObserverApplicationName}'";

    private static readonly DateTimeOffset s_at = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private string _connectionString = null!;

    public async Task InitializeAsync()
    {
        // The throwaway server's connection string sets a pool size; these tests are about the provider's own default.
        var builder = new NpgsqlConnectionStringBuilder(await postgres.Server.CreateDatabaseAsync());
        builder.Remove("Maximum Pool Size");
        _connectionString = builder.ConnectionString;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task InitializeAsync_WarmingCommitConnections_LeavesNoData()
    {
        await using var storage = await CreateSutAsync();

        Assert.Equal(CommitSlots, storage.MaxConcurrentCommits);
        Assert.Equal(CommitSlots, storage.CommitBackendProcessIds.Count);
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM orch_grain_state"));
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM orch_events"));
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM orch_reminders"));
        Assert.Equal(0L, await storage.ReadLastSequenceAsync(CancellationToken.None));
    }

    [Fact]
    public async Task CommitAsync_ManyCommits_StaysOnTheWarmedConnections()
    {
        await using var storage = await CreateSutAsync();
        var warmed = storage.CommitBackendProcessIds.Order().ToArray();

        await Task.WhenAll(Enumerable.Range(0, 50).Select(i => storage.CommitAsync([Write($"grain-{i}", 0, $"e{i}")], CancellationToken.None)));

        Assert.Equal(warmed, storage.CommitBackendProcessIds.Order().ToArray());
        Assert.True(storage.CommitStatementsPrepared, "rebinding parameters keeps the explicitly prepared statement");
        Assert.Equal((long)warmed.Length, await ScalarAsync(
            $"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = '{PostgresCommitConnections.ApplicationName}'"));
        Assert.Equal(50L, await storage.ReadLastSequenceAsync(CancellationToken.None));
    }

    [Fact]
    public async Task CommitAsync_AfterCommitBackendsTerminated_SucceedsOnNewConnections()
    {
        await using var storage = await CreateSutAsync();
        var first = Write("alice", 0, "created");
        await storage.CommitAsync([first], CancellationToken.None);
        var terminated = storage.CommitBackendProcessIds.ToArray();

        foreach (var pid in terminated)
        {
            Assert.Equal(true, await ScalarAsync($"SELECT pg_terminate_backend({pid})"));
        }

        await Eventually.TrueAsync(
            async () => await ScalarAsync($"SELECT count(*) FROM pg_stat_activity WHERE pid IN ({string.Join(",", terminated)})") is 0L,
            "the terminated backends exit");
        // Both slots are used, so both terminated connections are met and replaced.
        var second = Write("alice", first.NewVersion, "renamed");
        var third = Write("bob", 0, "created");
        await Task.WhenAll(
            storage.CommitAsync([second], CancellationToken.None),
            storage.CommitAsync([third], CancellationToken.None));

        Assert.Equal(2, second.NewVersion);
        Assert.False(second.Conflict);
        Assert.Equal(1, third.NewVersion);
        Assert.Equal(2, (await storage.ReadStateAsync(Key("alice"), CancellationToken.None))!.Version);
        Assert.Empty(storage.CommitBackendProcessIds.Intersect(terminated));
        Assert.Equal(3L, await storage.ReadLastSequenceAsync(CancellationToken.None));
    }

    [Fact]
    public async Task InitializeAsync_BeforeAnyRead_HoldsWarmReadAndCommitConnections()
    {
        await using var storage = await CreateSutAsync();

        // Only initialization has run: the read backends it opened wait in the pool, next to the commit set.
        Assert.Equal((long)PostgresStateReads.Concurrency, await ScalarAsync(ProviderBackends + $" AND application_name <> '{PostgresCommitConnections.ApplicationName}'"));
        Assert.Equal((long)CommitSlots, await ScalarAsync(ProviderBackends + $" AND application_name = '{PostgresCommitConnections.ApplicationName}'"));
    }

    [Fact]
    public async Task ReadStateAsync_ThousandConcurrentReads_GoThroughTheWarmedConnectionsInFewQueries()
    {
        await using var storage = await CreateSutAsync();
        await storage.CommitAsync([Write("alice", 0, "created")], CancellationToken.None);
        var warmed = await ScalarAsync(ProviderBackends);

        var reads = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => storage.ReadStateAsync(Key(i % 2 == 0 ? "alice" : $"nobody-{i}"), CancellationToken.None)));

        Assert.All(reads.Where((_, i) => i % 2 == 0), read => Assert.Equal(1, read!.Version));
        Assert.All(reads.Where((_, i) => i % 2 == 1), Assert.Null);
        Assert.Equal(warmed, await ScalarAsync(ProviderBackends));
    }

    [Fact]
    public async Task Start_SiloReportsStarted_ReadAndCommitConnectionsAlreadyWarm()
    {
        await using var cluster = await TestClusterFactory.StartAsync(new GrainProbe(), builder => builder.UsePostgresStorage(_connectionString));

        // No grain has been called: whatever is open was opened by start-up, before the silo reported started. The test
        // grains' implicit stream subscriptions read their cursors as the silo starts, so they may have opened more.
        Assert.InRange(
            (long)(await ScalarAsync(ProviderBackends + " AND application_name = ''"))!,
            PostgresStateReads.Concurrency,
            PostgresReadPool.DefaultMaxConnections);
        Assert.Equal((long)CommitSlots, await ScalarAsync(ProviderBackends + $" AND application_name = '{PostgresCommitConnections.ApplicationName}'"));
    }

    [Fact]
    public async Task ActivationStorm_ThousandConcurrentActivations_OpensAtMostTheCappedBackends()
    {
        await using var cluster = await TestClusterFactory.StartAsync(new GrainProbe(), builder => builder.UsePostgresStorage(_connectionString));
        var peak = 0L;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, (long)(await ScalarAsync(ProviderBackends))!);
                await Task.Delay(1, CancellationToken.None);
            }
        });

        await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => cluster.GrainFactory.GetGrain<IProfileGrain>($"storm-{i}").GetAsync()));
        await sampling.CancelAsync();
        await sampler;
        peak = Math.Max(peak, (long)(await ScalarAsync(ProviderBackends))!);

        const long Allowed = PostgresReadPool.DefaultMaxConnections + CommitSlots + 1; // + the listener
        Assert.InRange(peak, CommitSlots + 1, Allowed);
    }

    [Theory]
    [InlineData("Host=db;Maximum Pool Size=20", true)]
    [InlineData("Host=db;Max Pool Size=20", true)]
    [InlineData("Host=db;maxpoolsize=20", true)]
    [InlineData("Host=db;Minimum Pool Size=2", false)]
    [InlineData("Host=db", false)]
    public void SetsMaxPoolSize_ConnectionString_DetectsAnExplicitSize(string connectionString, bool expected) =>
        Assert.Equal(expected, PostgresReadPool.SetsMaxPoolSize(connectionString));

    [Fact]
    public async Task Build_ExplicitMaxPoolSize_IsKept()
    {
        await using var explicitSize = PostgresReadPool.Build("Host=db;Maximum Pool Size=20");
        await using var defaultSize = PostgresReadPool.Build("Host=db");

        Assert.Equal(20, new NpgsqlConnectionStringBuilder(explicitSize.ConnectionString).MaxPoolSize);
        Assert.Equal(PostgresReadPool.DefaultMaxConnections, new NpgsqlConnectionStringBuilder(defaultSize.ConnectionString).MaxPoolSize);
    }

    [Fact]
    public async Task ReadConnection_AfterATenantRead_GoesBackWithoutResetAndCarriesNoTenant()
    {
        // One read connection, so the probe below runs on the very connection the tenant read used.
        await using var storage = new PostgresGrainStorage(new NpgsqlConnectionStringBuilder(_connectionString) { MaxPoolSize = 1 }.ConnectionString);
        await storage.InitializeAsync(CancellationToken.None);

        await storage.QueryProjectionsAsync(new ProjectionQuery("tasks", "acme"), CancellationToken.None);

        Assert.True(new NpgsqlConnectionStringBuilder(storage.ReadPool.ConnectionString).NoResetOnClose);
        await using var connection = await storage.ReadPool.OpenConnectionAsync();
        await using var probe = new NpgsqlCommand("SELECT coalesce(current_setting('app.current_org', true), ''), current_user = session_user", connection);
        await using var reader = await probe.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(("", true), (reader.GetString(0), reader.GetBoolean(1)));
    }

    private static GrainStateKey Key(string grain) => new("profile", grain, "profile");

    private static StorageWrite Write(string grain, long expectedVersion, string eventType) =>
        StorageWrite.State(Key(grain), """{"name":"x"}""", expectedVersion, [new EventDraft(new StreamId("profiles", grain), eventType, s_at, "{}")]);

    private async Task<PostgresGrainStorage> CreateSutAsync()
    {
        var storage = new PostgresGrainStorage(_connectionString);
        await storage.InitializeAsync(CancellationToken.None);
        return storage;
    }

    private async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_connectionString) { ApplicationName = ObserverApplicationName }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
