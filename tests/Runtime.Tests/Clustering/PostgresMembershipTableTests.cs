using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orchestration.Runtime.Clustering;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Streams;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Clustering;

/// <summary>
/// The membership table and partition leases on a real PostgreSQL, and the fence every commit passes: a write whose
/// partition moved to another owner stores nothing, while the rest of its batch commits.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresMembershipTableTests(PostgresServerFixture postgres) : IAsyncLifetime
{
    private static readonly TimeSpan s_lease = TimeSpan.FromSeconds(30);
    private string _connectionString = null!;
    private PostgresGrainStorage _storage = null!;
    private PostgresMembershipTable _table = null!;

    public async Task InitializeAsync()
    {
        _connectionString = await postgres.Server.CreateDatabaseAsync();
        _storage = new PostgresGrainStorage(_connectionString);
        await _storage.InitializeAsync(CancellationToken.None);
        _table = new PostgresMembershipTable(_connectionString);
    }

    public async Task DisposeAsync()
    {
        await _table.DisposeAsync();
        await _storage.DisposeAsync();
    }

    [Fact]
    public async Task Migration_PartitionRows_MatchThePartitionCount()
    {
        var snapshot = await _table.ReadAsync(CancellationToken.None);

        Assert.Equal(Enumerable.Range(0, ClusterPartitions.Count), snapshot.Partitions.Select(owner => owner.Partition));
        Assert.All(snapshot.Partitions, owner => Assert.Null(owner.SiloId));
    }

    [Fact]
    public async Task Table_ConnectionStringWithOptionsOfItsOwn_KeepsThem()
    {
        // The operator's schema, set in the connection string's options as the storage's connections take it.
        await Execute("CREATE SCHEMA app");
        var inApp = new NpgsqlConnectionStringBuilder(_connectionString) { Options = "-c search_path=app" }.ConnectionString;
        await using var storage = new PostgresGrainStorage(inApp);
        await storage.InitializeAsync(CancellationToken.None);
        await using var table = new PostgresMembershipTable(inApp);

        var joined = await table.JoinAsync("silo-a", "127.0.0.1:1", CancellationToken.None);

        Assert.Equal(joined.Generation, Assert.Single((await table.ReadAsync(CancellationToken.None)).Silos).Generation);
        Assert.Empty((await _table.ReadAsync(CancellationToken.None)).Silos); // the public schema's tables saw nothing
    }

    [Fact]
    public async Task JoinAsync_RowsDeadForADay_AreForgotten()
    {
        var longGone = await _table.JoinAsync("silo-a", "127.0.0.1:1", CancellationToken.None);
        var recentlyGone = await _table.JoinAsync("silo-b", "127.0.0.1:2", CancellationToken.None);
        await Execute("UPDATE orch_silos SET status = 'dead'");
        await Execute($"UPDATE orch_silos SET heartbeat_at = now() - interval '25 hours' WHERE generation = {longGone.Generation}");

        await _table.JoinAsync("silo-c", "127.0.0.1:3", CancellationToken.None);

        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var rows = new NpgsqlCommand("SELECT silo_id FROM orch_silos ORDER BY silo_id", connection);
        await using var reader = await rows.ExecuteReaderAsync();
        var left = new List<string>();
        while (await reader.ReadAsync())
        {
            left.Add(reader.GetString(0));
        }

        Assert.Equal(["silo-b", "silo-c"], left);
        Assert.Equal(SiloMembershipStatus.Dead, await _table.HeartbeatAsync(longGone, CancellationToken.None));
        Assert.Equal(SiloMembershipStatus.Dead, await _table.HeartbeatAsync(recentlyGone, CancellationToken.None));
    }

    [Fact]
    public async Task JoinAsync_EachStart_GetsANewGenerationAndBumpsTheVersion()
    {
        var before = (await _table.ReadAsync(CancellationToken.None)).Version;

        var first = await _table.JoinAsync("silo-a", "127.0.0.1:1", CancellationToken.None);
        var second = await _table.JoinAsync("silo-a", "127.0.0.1:1", CancellationToken.None);

        Assert.True(second.Generation > first.Generation);
        var snapshot = await _table.ReadAsync(CancellationToken.None);
        Assert.Equal(before + 2, snapshot.Version);
        Assert.Equal([SiloMembershipStatus.Joining, SiloMembershipStatus.Joining], snapshot.Silos.Select(silo => silo.Status));
    }

    [Fact]
    public async Task TryUpdateStatusAsync_StaleVersion_ChangesNothing()
    {
        var silo = await _table.JoinAsync("silo-a", "127.0.0.1:1", CancellationToken.None);
        var version = (await _table.ReadAsync(CancellationToken.None)).Version;
        await _table.JoinAsync("silo-b", "127.0.0.1:2", CancellationToken.None); // moves the version on

        Assert.False(await _table.TryUpdateStatusAsync(silo, SiloMembershipStatus.Active, version, CancellationToken.None));
        var current = (await _table.ReadAsync(CancellationToken.None)).Version;
        Assert.True(await _table.TryUpdateStatusAsync(silo, SiloMembershipStatus.Active, current, CancellationToken.None));

        var snapshot = await _table.ReadAsync(CancellationToken.None);
        Assert.Equal(SiloMembershipStatus.Active, snapshot.Silos.Single(entry => entry.IsSameGeneration(silo)).Status);
        Assert.Equal(current + 1, snapshot.Version);
    }

    [Fact]
    public async Task TryDeclareDeadAsync_FreshHeartbeat_Refused_OverdueHeartbeat_DeclaredAndStaysDead()
    {
        var silo = await _table.JoinAsync("silo-a", "127.0.0.1:1", CancellationToken.None);
        var version = (await _table.ReadAsync(CancellationToken.None)).Version;

        Assert.False(await _table.TryDeclareDeadAsync(silo, TimeSpan.FromMinutes(1), version, CancellationToken.None));
        await Execute("UPDATE orch_silos SET heartbeat_at = now() - interval '2 minutes'");
        Assert.True(await _table.TryDeclareDeadAsync(silo, TimeSpan.FromMinutes(1), version, CancellationToken.None));

        Assert.Equal(SiloMembershipStatus.Dead, await _table.HeartbeatAsync(silo, CancellationToken.None));
        var current = (await _table.ReadAsync(CancellationToken.None)).Version;
        Assert.False(await _table.TryUpdateStatusAsync(silo, SiloMembershipStatus.Active, current, CancellationToken.None));
    }

    [Fact]
    public async Task AcquireAsync_HeldLease_RefusedUntilItExpires_ThenTakenUnderANewEpoch()
    {
        var a = await _table.JoinAsync("silo-a", "127.0.0.1:1", CancellationToken.None);
        var b = await _table.JoinAsync("silo-b", "127.0.0.1:2", CancellationToken.None);
        var granted = Assert.Single(await _table.AcquireAsync(a, [7], s_lease, CancellationToken.None));

        Assert.Empty(await _table.AcquireAsync(b, [7], s_lease, CancellationToken.None));
        await Execute("UPDATE orch_partitions SET expires_at = now() - interval '1 second' WHERE partition = 7");
        var taken = Assert.Single(await _table.AcquireAsync(b, [7], s_lease, CancellationToken.None));

        Assert.Equal(granted.Epoch + 1, taken.Epoch);
        Assert.Empty(await _table.RenewAsync(a, [granted], s_lease, CancellationToken.None));
        Assert.Equal([taken], await _table.RenewAsync(b, [taken], s_lease, CancellationToken.None));
    }

    [Fact]
    public async Task ReleaseAsync_OwnLease_FreesIt_OthersLease_Untouched()
    {
        var a = await _table.JoinAsync("silo-a", "127.0.0.1:1", CancellationToken.None);
        var b = await _table.JoinAsync("silo-b", "127.0.0.1:2", CancellationToken.None);
        await _table.AcquireAsync(a, [1, 2], s_lease, CancellationToken.None);

        await _table.ReleaseAsync(b, [1], CancellationToken.None);
        await _table.ReleaseAsync(a, [2], CancellationToken.None);

        var owners = (await _table.ReadAsync(CancellationToken.None)).Partitions;
        Assert.Equal("silo-a", owners[1].SiloId);
        Assert.Null(owners[2].SiloId);
        Assert.Equal(2, Assert.Single(await _table.AcquireAsync(b, [2], s_lease, CancellationToken.None)).Partition);
    }

    [Fact]
    public async Task CommitAsync_EpochMovedOn_FencedWriteStoresNothingAndTheRestOfTheBatchCommits()
    {
        var a = await _table.JoinAsync("silo-a", "127.0.0.1:1", CancellationToken.None);
        var b = await _table.JoinAsync("silo-b", "127.0.0.1:2", CancellationToken.None);
        var stale = Assert.Single(await _table.AcquireAsync(a, [3], s_lease, CancellationToken.None));
        var current = Assert.Single(await _table.AcquireAsync(a, [4], s_lease, CancellationToken.None));
        await Execute("UPDATE orch_partitions SET expires_at = now() - interval '1 second' WHERE partition = 3");
        await _table.AcquireAsync(b, [3], s_lease, CancellationToken.None); // partition 3 moved to b: epoch + 1

        var fenced = Write("fenced", stale.Partition, stale.Epoch);
        var kept = Write("kept", current.Partition, current.Epoch);
        var unfenced = StorageWrite.State(new GrainStateKey("t", "plain", "s"), "{}", expectedVersion: 0, []);
        await _storage.CommitAsync([fenced, kept, unfenced], CancellationToken.None);

        Assert.True(fenced.Fenced);
        Assert.False(kept.Fenced);
        Assert.Null(await _storage.ReadStateAsync(new GrainStateKey("t", "fenced", "s"), CancellationToken.None));
        Assert.Equal(1, await _storage.ReadLastSequenceAsync(CancellationToken.None)); // kept's event only
        Assert.NotNull(await _storage.ReadStateAsync(new GrainStateKey("t", "kept", "s"), CancellationToken.None));
        Assert.NotNull(await _storage.ReadStateAsync(new GrainStateKey("t", "plain", "s"), CancellationToken.None));
    }

    [Fact]
    public async Task CommitAsync_WaitingOnATakeOverInFlight_SeesTheNewEpochAndIsFenced()
    {
        var a = await _table.JoinAsync("silo-a", "127.0.0.1:1", CancellationToken.None);
        var b = await _table.JoinAsync("silo-b", "127.0.0.1:2", CancellationToken.None);
        var held = Assert.Single(await _table.AcquireAsync(a, [5], s_lease, CancellationToken.None));
        await Execute("UPDATE orch_partitions SET expires_at = now() - interval '1 second' WHERE partition = 5");

        // b's take-over is in flight: it holds the fence lock exclusively until its transaction ends.
        await using var takeOver = new NpgsqlConnection(_connectionString);
        await takeOver.OpenAsync();
        await using var transaction = await takeOver.BeginTransactionAsync();
        await using (var acquire = new NpgsqlCommand($"SELECT * FROM orch_acquire_partitions('silo-b', {b.Generation}, ARRAY[5], interval '30 seconds')", takeOver, transaction))
        {
            await acquire.ExecuteNonQueryAsync();
        }

        // a's commit, stamped with the epoch it still holds, reaches the fence and waits there.
        var write = Write("raced", held.Partition, held.Epoch);
        var commit = _storage.CommitAsync([write], CancellationToken.None);
        await Eventually.TrueAsync(async () => await WaitingOnAdvisoryLockAsync() > 0, "the commit waits for the fence lock");
        Assert.False(commit.IsCompleted);
        await transaction.CommitAsync();
        await commit;

        // Its check ran after the wait, on a fresh snapshot: the epoch had moved, so nothing of it was stored.
        Assert.True(write.Fenced);
        Assert.Null(await _storage.ReadStateAsync(new GrainStateKey("t", "raced", "s"), CancellationToken.None));
        Assert.Equal(0, await _storage.ReadLastSequenceAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Keepers_TwoSilosOnPostgres_SplitEveryPartitionEvenly()
    {
        var options = new ClusterOptions();
        await using var a = new PartitionLeaseKeeper(_table, "silo-a", "127.0.0.1:1", options, TimeProvider.System, NullLogger.Instance, new NoActivations());
        await using var b = new PartitionLeaseKeeper(_table, "silo-b", "127.0.0.1:2", options, TimeProvider.System, NullLogger.Instance, new NoActivations());
        await a.JoinAsync(CancellationToken.None);
        await b.JoinAsync(CancellationToken.None);

        for (var round = 0; round < 4; round++)
        {
            await a.TickAsync(CancellationToken.None);
            await b.TickAsync(CancellationToken.None);
        }

        Assert.Equal(128, a.Held.Count);
        Assert.Equal(128, b.Held.Count);
        var owners = (await _table.ReadAsync(CancellationToken.None)).Partitions;
        Assert.All(a.Held, lease => Assert.Equal(("silo-a", lease.Epoch), (owners[lease.Partition].SiloId!, owners[lease.Partition].Epoch)));
        Assert.All(b.Held, lease => Assert.Equal(("silo-b", lease.Epoch), (owners[lease.Partition].SiloId!, owners[lease.Partition].Epoch)));
    }

    private static StorageWrite Write(string key, int partition, long epoch)
    {
        var grain = new GrainId("t", key);
        var write = StorageWrite.State(new GrainStateKey("t", key, "s"), "{}", expectedVersion: 0,
            [new EventDraft(new StreamId("ns", key), "e", DateTimeOffset.UnixEpoch, "{}")]);
        write.Fence = new WriteFence(grain, new PartitionLease(partition, epoch, long.MaxValue));
        return write;
    }

    private async Task<long> WaitingOnAdvisoryLockAsync()
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task Execute(string sql)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private sealed class NoActivations : IPartitionHost
    {
        public Task DrainAsync(IReadOnlyList<PartitionLease> periods) => Task.CompletedTask;

        public void Discard(PartitionLease period)
        {
        }

        public void Acquired(IReadOnlyList<PartitionLease> periods, IReadOnlyList<int> failedOver)
        {
        }
    }
}
