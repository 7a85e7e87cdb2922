using Orchestration.Runtime.Testing;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Projections;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Persistence;

/// <summary>
/// Migrations are append-only: released steps keep their checksums, and a database made by an older set of steps
/// upgrades in place with its data readable and writable.
/// </summary>
public static class SchemaMigrationChecks
{
    internal static readonly GrainStateKey Key = new("profile", "org/old", "profile");

    /// <summary>SHA-256 of each step's text (line endings normalized), so a checkout's line endings do not matter.</summary>
    public static string[] Checksums(IReadOnlyList<string> migrations) =>
        migrations.Select(sql => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql.ReplaceLineEndings("\n"))))).ToArray();

    /// <summary>
    /// Released steps must stay as they are; a new step appends a line here. Editing a released step instead
    /// fails this check: a database that already ran it would never see the edit.
    /// </summary>
    public static void AssertReleasedUnchanged(string[] released, IReadOnlyList<string> migrations)
    {
        var actual = Checksums(migrations);
        Assert.True(actual.Length >= released.Length, $"a released migration was removed ({actual.Length} < {released.Length})");
        Assert.True(
            released.SequenceEqual(actual.Take(released.Length)),
            $"a released migration was edited; add a new one instead. Checksums now: {string.Join(", ", actual)}");
        Assert.True(actual.Length == released.Length, $"record the new migration's checksum: {actual[^1]}");
    }

    /// <summary>What the older release wrote, then the newest code reading, updating, deleting and recreating it.</summary>
    internal static async Task AssertOldDataUsableAsync(IGrainStorage storage)
    {
        var old = await storage.ReadStateAsync(Key, CancellationToken.None);
        Assert.Equal(1, old!.Version);
        Assert.Contains("\"old\"", old.Data);
        Assert.Equal(1, await storage.ReadLastSequenceAsync(CancellationToken.None));
        Assert.Equal("old", Assert.Single(await storage.ReadTenantEventsAsync("acme", 0, 10, CancellationToken.None)).Type); // backfilled
        Assert.Empty(await storage.ReadTenantEventsAsync("acme/k", 0, 10, CancellationToken.None));

        var update = StorageWrite.State(Key, """{"n":"new"}""", 1, []);
        await storage.CommitAsync([update], CancellationToken.None);
        var delete = StorageWrite.Delete(Key, 2, []);
        await storage.CommitAsync([delete], CancellationToken.None);
        var deletedRead = await storage.ReadStateAsync(Key, CancellationToken.None);
        var recreate = StorageWrite.State(Key, """{"n":"again"}""", 0, []);
        await storage.CommitAsync([recreate], CancellationToken.None);

        Assert.Equal((false, 2L), (update.Conflict, update.NewVersion));
        Assert.False(delete.Conflict);
        Assert.Null(deletedRead);
        Assert.Equal((false, 4L), (recreate.Conflict, recreate.NewVersion));
        Assert.Equal(4, (await storage.ReadStateAsync(Key, CancellationToken.None))!.Version);

        var projected = StorageWrite.State(Key, """{"n":"projected"}""", 4, [], [ProjectionChange.Set(new ProjectionRow("tasks", "acme", "k", "{}"))]);
        await storage.CommitAsync([projected], CancellationToken.None);
        Assert.Equal("k", Assert.Single((await storage.QueryProjectionsAsync(new ProjectionQuery("tasks", "acme"), CancellationToken.None)).Items).Id);
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresSchemaMigrationTests(PostgresServerFixture postgres)
{
    private static readonly string[] s_released =
    [
        "07c086073dcd4817459279eb33d44fb04837b020d2961dc56333b05b7ecb5e35", // tables
        "e25783aabdb1289a4fb94e8169df99f2f4d4dc8843ec356650aa4d2739c593a0", // orch_commit
        "312dc7a238291d2bf9ef0bcdd81738d2cb4bd0483e1830be7133360f357b5ed6", // orch_apply_reminders: a batch's reminder changes in order
        "4455878d408c86ebf6996ba564f268ad136776fbd4dd49a6806ed6af728c6601", // tombstones, orch_commit in lock order
        "8a0cb4d563a75436188f4233f5d04eabeecc0e62a398e62b36735b71e5d6288a", // event tenants, projections, row-level security
        "571d707a5f8361aee4e5ebf8690da1b849f777d1e24b17fd604fb598ae7d8f1f", // cluster membership, partition leases, orch_fence
        "523304ec5d1929c27e95aa3e92410eaf70b23a6c2c0c610da77c39b44cafde1a", // partial list indexes; orch_apply_reminders in PL/pgSQL; orch_commit: rows by key and address, new rows without a join back, events last
        "1d9a7ccfef4fa9df7890f9276dd4701a002a4d8ffa284d0c67bc7801c914f4dc", // json documents; orch_commit V5 (V4 with json)
        "b39d8c7dc07bdf134948ea700b827e18ef6455071ed133fcf6fa2d9f28e70e20", // orch_apply_reminders and orch_commit V6: projection and reminder rows locked in one key order
        "b07578e1b3b71a9e4068461ff765d06e58f628bf629e11110724371f6e131b69", // partial indexes for the reminders a reload reads
    ];

    [Fact]
    public void Migrations_Released_KeepTheirChecksums() =>
        SchemaMigrationChecks.AssertReleasedUnchanged(s_released, PostgresGrainStorage.Migrations);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    public async Task Initialize_DatabaseFromOlderMigrations_UpgradesInPlaceAndKeepsData(int olderMigrations)
    {
        var connectionString = await CreateDatabaseAtStepAsync(olderMigrations);
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var insertState = new NpgsqlCommand(
                """INSERT INTO orch_grain_state (grain_type, grain_key, state_name, data, version) VALUES ($1, $2, $3, '{"n":"old"}', 1)""", connection);
            insertState.Parameters.Add(new NpgsqlParameter { Value = SchemaMigrationChecks.Key.GrainType });
            insertState.Parameters.Add(new NpgsqlParameter { Value = SchemaMigrationChecks.Key.GrainKey });
            insertState.Parameters.Add(new NpgsqlParameter { Value = SchemaMigrationChecks.Key.StateName });
            await insertState.ExecuteNonQueryAsync();
            // From migration 5 on, every event row carries its tenant.
            await using var insertEvent = new NpgsqlCommand(olderMigrations >= 5
                ? "INSERT INTO orch_events (sequence, stream_namespace, stream_key, tenant, event_type, occurred_at, data) VALUES (1, 'ns', 'acme/k', 'acme', 'old', now(), '{}')"
                : "INSERT INTO orch_events (sequence, stream_namespace, stream_key, event_type, occurred_at, data) VALUES (1, 'ns', 'acme/k', 'old', now(), '{}')", connection);
            await insertEvent.ExecuteNonQueryAsync();
        }

        await using var storage = CreateSut(connectionString);
        await storage.InitializeAsync(CancellationToken.None);

        await SchemaMigrationChecks.AssertOldDataUsableAsync(storage);
        await using var check = new NpgsqlConnection(connectionString);
        await check.OpenAsync();
        Assert.Equal(PostgresGrainStorage.Migrations.Count, await AppliedStepsAsync(check));
    }

    [Fact]
    public async Task Initialize_Latest_PreviousReleaseCommitStillStoresItsJsonbDocuments()
    {
        // A silo of the previous release, during a rolling upgrade, calls orch_commit with jsonb documents (V4's
        // overload); since migration 8 the columns are json, and the assignment casts must carry its writes.
        var connectionString = await CreateDatabaseAtStepAsync(PostgresGrainStorage.Migrations.Count);

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        // First an insert of each, then an update of each (version 1 expected, the projection over its row).
        for (var version = 0; version < 2; version++)
        {
            await using var commit = new NpgsqlCommand(
                """
                SELECT c.stored_versions FROM orch_commit(
                    ARRAY[0], ARRAY['T'], ARRAY['acme/k'], ARRAY['s'], ARRAY[format('{"n":%s}', $1)::jsonb], ARRAY[$1::bigint], ARRAY[false],
                    ARRAY[0], ARRAY['ns'], ARRAY['acme/k'], ARRAY['acme'], ARRAY['old.release'], ARRAY[now()], ARRAY['{}'::json],
                    ARRAY[0], ARRAY['tasks'], ARRAY['acme'], ARRAY['t1'], ARRAY['ready'], ARRAY[NULL::text], ARRAY[NULL::text], ARRAY[format('{"v":%s}', $1)::jsonb],
                    '{}'::int[], '{}'::text[], '{}'::text[], '{}'::text[], '{}'::timestamptz[], '{}'::interval[], 1, 'orch_events') AS c
                """, connection);
            commit.Parameters.Add(new NpgsqlParameter { Value = version });
            var storedVersions = (long[])(await commit.ExecuteScalarAsync())!;
            Assert.Equal(new[] { version + 1L }, storedVersions);
        }

        await using var read = new NpgsqlCommand(
            """
            SELECT (SELECT data::text FROM orch_grain_state WHERE grain_key = 'acme/k'),
                   (SELECT document::text FROM orch_projections WHERE id = 't1'),
                   (SELECT count(*) FROM orch_events WHERE event_type = 'old.release')
            """, connection);
        await using var reader = await read.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(("""{"n": 1}""", """{"v": 1}""", 2L), (reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
    }

    [Fact]
    public async Task Initialize_TableHeldByALongTransaction_MigrationRetriesWithoutStallingOtherQueriesAndFinishesOnceReleased()
    {
        // Migration 8 alters orch_grain_state, which takes an exclusive lock. A long transaction of the running release
        // holds a share lock on the table. Every later query of the table queues behind a waiting lock request, so the
        // migration must not keep one queued for as long as that transaction lasts.
        await using var run = await StartBehindLongTransactionAsync("orch_grain_state", TimeSpan.FromMilliseconds(200));

        // A query of the running release, while the migration tries: answered within 5 s, not stuck behind it.
        await ReadAsync(run.Observer, "orch_grain_state", commandTimeoutSeconds: 5);
        await run.Log.Warned.WaitAsync(TimeSpan.FromSeconds(30)); // it gave up on the lock and rolled back at least once

        await ThrowIfFaultedAsync(run.Migrating);
        Assert.False(run.Migrating.IsCompleted, "the migration finished while its table was locked");
        await run.LongTransaction.CommitAsync();
        await run.Migrating.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(PostgresGrainStorage.Migrations.Count, await AppliedStepsAsync(run.Observer));
    }

    [Fact]
    public async Task Initialize_StepDeadlocksWithALongTransaction_MigrationRetriesAndTheTransactionGoesOn()
    {
        // The long transaction reads orch_projections, the migration locks the tables in name order and waits for it
        // there holding orch_grain_state, then the long transaction reads orch_grain_state: a deadlock, found within
        // deadlock_timeout (1 s) by the migration, which waited first. Its start-up must retry, not fail. The lock
        // timeout is long, so the deadlock and not the timeout ends the wait.
        await using var run = await StartBehindLongTransactionAsync("orch_projections", TimeSpan.FromSeconds(20));

        await ReadAsync(run.LongReader, "orch_grain_state", commandTimeoutSeconds: 20);
        await run.LongTransaction.CommitAsync();
        await run.Log.Warned.WaitAsync(TimeSpan.FromSeconds(30));
        await run.Migrating.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(PostgresGrainStorage.Migrations.Count, await AppliedStepsAsync(run.Observer));
    }

    [Fact]
    public async Task Initialize_WaitingForATable_LeavesTheClusterLeasesAndTheEventLogFree()
    {
        // The migration holds the tables before orch_projections and waits there. A lease renewal must not wait behind
        // it (a lease outlived by its renewal ends every partition of the silo), and the event log, which commits take
        // last, must not be taken before the tables commits take first.
        await using var run = await StartBehindLongTransactionAsync("orch_projections", TimeSpan.FromSeconds(20));

        await using (var renewal = new NpgsqlCommand("UPDATE orch_partitions SET expires_at = now() + interval '2 s' WHERE partition = 0", run.Observer) { CommandTimeout = 5 })
        {
            await renewal.ExecuteNonQueryAsync();
        }

        await ReadAsync(run.Observer, "orch_silos", commandTimeoutSeconds: 5);
        await ReadAsync(run.Observer, "orch_membership_version", commandTimeoutSeconds: 5);
        await ReadAsync(run.Observer, "orch_events", commandTimeoutSeconds: 5);
        await ThrowIfFaultedAsync(run.Migrating);
        Assert.False(run.Migrating.IsCompleted, "the migration finished while its table was locked");
        await run.LongTransaction.CommitAsync();
        await run.Migrating.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(PostgresGrainStorage.Migrations.Count, await AppliedStepsAsync(run.Observer));
    }

    [Fact]
    public async Task Initialize_AnotherProcessIsMigrating_PausesInsteadOfQueueingAndMigratesOnceItIsDone()
    {
        // Silos queued on the migration lock would each request their table locks the moment the one before gave up,
        // back to back, and a table held by a long transaction would never be free: a busy migration lock is a pause.
        var connectionString = await CreateDatabaseAtStepAsync(7);
        await using var otherProcess = new NpgsqlConnection(connectionString);
        await otherProcess.OpenAsync();
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({PostgresGrainStorage.MigrationLockKey})", otherProcess))
        {
            await take.ExecuteNonQueryAsync();
        }

        var log = new MigrationLog();
        await using var storage = new PostgresGrainStorage(connectionString, logger: log) { MigrationRetryDelay = TimeSpan.FromMilliseconds(100) };
        var migrating = storage.InitializeAsync(CancellationToken.None);
        await log.Paused.WaitAsync(TimeSpan.FromSeconds(30));
        await using var waiters = new NpgsqlCommand("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", otherProcess);
        Assert.Equal(0L, await waiters.ExecuteScalarAsync());
        await ThrowIfFaultedAsync(migrating);
        Assert.False(migrating.IsCompleted, "migrated while another process held the migration lock");

        await using (var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({PostgresGrainStorage.MigrationLockKey})", otherProcess))
        {
            await release.ExecuteNonQueryAsync();
        }

        await migrating.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(PostgresGrainStorage.Migrations.Count, await AppliedStepsAsync(otherProcess));
    }

    /// <summary>
    /// A database at step 7 whose <paramref name="heldTable"/> a long transaction has read (so holds), and the migration to
    /// the latest step, started with <paramref name="lockTimeout"/>, once it waits for that table.
    /// </summary>
    private async Task<BehindLongTransaction> StartBehindLongTransactionAsync(string heldTable, TimeSpan lockTimeout)
    {
        var connectionString = await CreateDatabaseAtStepAsync(7);
        var longReader = new NpgsqlConnection(connectionString);
        await longReader.OpenAsync();
        var longTransaction = await longReader.BeginTransactionAsync();
        await ReadAsync(longReader, heldTable);

        var log = new MigrationLog();
        var storage = new PostgresGrainStorage(connectionString, logger: log) { MigrationLockTimeout = lockTimeout, MigrationRetryDelay = TimeSpan.FromMilliseconds(100) };
        var migrating = storage.InitializeAsync(CancellationToken.None);
        var observer = new NpgsqlConnection(connectionString);
        await observer.OpenAsync();
        var run = new BehindLongTransaction(longReader, longTransaction, storage, migrating, observer, log);
        await WaitForExclusiveLockRequestAsync(observer, heldTable);
        return run;
    }

    private sealed record BehindLongTransaction(
        NpgsqlConnection LongReader, NpgsqlTransaction LongTransaction, PostgresGrainStorage Storage, Task Migrating, NpgsqlConnection Observer, MigrationLog Log)
        : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await LongTransaction.DisposeAsync();
            await LongReader.DisposeAsync();
            await Storage.DisposeAsync();
            await Observer.DisposeAsync();
        }
    }

    /// <summary>A new database migrated up to <paramref name="step"/>, as a release of that schema left it.</summary>
    private async Task<string> CreateDatabaseAtStepAsync(int step)
    {
        var connectionString = await postgres.Server.CreateDatabaseAsync();
        await using var older = CreateSut(connectionString);
        await older.InitializeAsync(step, CancellationToken.None);
        return connectionString;
    }

    private static async Task ReadAsync(NpgsqlConnection connection, string table, int commandTimeoutSeconds = 30)
    {
        await using var read = new NpgsqlCommand($"SELECT count(*) FROM {table}", connection) { CommandTimeout = commandTimeoutSeconds };
        await read.ExecuteScalarAsync();
    }

    private static async Task<int> AppliedStepsAsync(NpgsqlConnection connection)
    {
        await using var applied = new NpgsqlCommand("SELECT max(version) FROM orch_schema_migrations", connection);
        return (int)(await applied.ExecuteScalarAsync())!;
    }

    /// <summary>A faulted migration shows its own exception, not an assertion about it having finished.</summary>
    private static async Task ThrowIfFaultedAsync(Task migrating)
    {
        if (migrating.IsFaulted)
        {
            await migrating;
        }
    }

    /// <summary>Until some backend waits for an exclusive lock on <paramref name="table"/>: the migration has reached it.</summary>
    private static async Task WaitForExclusiveLockRequestAsync(NpgsqlConnection observer, string table)
    {
        await using var waiting = new NpgsqlCommand(
            $"SELECT count(*) FROM pg_locks WHERE relation = '{table}'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted", observer);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((long)(await waiting.ExecuteScalarAsync())! == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the migration never waited for {table}");
            await Task.Delay(5);
        }
    }

    /// <summary>The storage's log: completes <see cref="Warned"/> at its first warning, <see cref="Paused"/> at its first information.</summary>
    private sealed class MigrationLog : ILogger
    {
        private readonly TaskCompletionSource _warned = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _paused = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Warned => _warned.Task;

        public Task Paused => _paused.Task;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning)
            {
                _warned.TrySetResult();
            }
            else if (logLevel == LogLevel.Information)
            {
                _paused.TrySetResult();
            }
        }
    }

    private static PostgresGrainStorage CreateSut(string connectionString) => new(connectionString);
}

public sealed class SqliteSchemaMigrationTests : IDisposable
{
    private static readonly string[] s_released =
    [
        "c5ef141a73fef63c40b608b395ff0b79f5b78b0dc9cb9e69bdced62c4219d6b8", // tables
        "46fedd89230bd1b322619a9e1e569fbf59a24e4cf2c8f986c75794795dde0025", // tombstones
        "7b4b7d3f3afb07b474a8f9a6cf079efb5787bf746b8ea51d03f37f1ffb664748", // event tenants, projections
        "01c03cd4538ddbdaa32153dc038c877925a8e487727de931e7c143e44bea082b", // partial indexes for the reminders a reload reads
    ];

    private readonly string _path = Path.Combine(Path.GetTempPath(), $"orch-{Guid.NewGuid():N}.db");

    [Fact]
    public void Migrations_Released_KeepTheirChecksums() =>
        SchemaMigrationChecks.AssertReleasedUnchanged(s_released, SqliteGrainStorage.Migrations);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Initialize_DatabaseFromOlderMigrations_UpgradesInPlaceAndKeepsData(int olderMigrations)
    {
        await using (var older = CreateSut())
        {
            await older.InitializeAsync(olderMigrations, CancellationToken.None);
        }

        await using (var connection = new SqliteConnection($"Data Source={_path}"))
        {
            await connection.OpenAsync();
            await using var insert = connection.CreateCommand();
            // From step 3 on, the release that wrote the event recorded its tenant (before, step 3's backfill does).
            insert.CommandText = """
                INSERT INTO orch_grain_state (grain_type, grain_key, state_name, data, version) VALUES ($t, $k, $n, '{"n":"old"}', 1);
                """ + (olderMigrations >= 3
                ? "INSERT INTO orch_events (sequence, stream_namespace, stream_key, event_type, occurred_at_ticks, data, tenant) VALUES (1, 'ns', 'acme/k', 'old', 0, '{}', 'acme');"
                : "INSERT INTO orch_events (sequence, stream_namespace, stream_key, event_type, occurred_at_ticks, data) VALUES (1, 'ns', 'acme/k', 'old', 0, '{}');");
            insert.Parameters.AddWithValue("$t", SchemaMigrationChecks.Key.GrainType);
            insert.Parameters.AddWithValue("$k", SchemaMigrationChecks.Key.GrainKey);
            insert.Parameters.AddWithValue("$n", SchemaMigrationChecks.Key.StateName);
            await insert.ExecuteNonQueryAsync();
        }

        await using var storage = CreateSut();
        await storage.InitializeAsync(CancellationToken.None);

        await SchemaMigrationChecks.AssertOldDataUsableAsync(storage);
    }

    public void Dispose() => StorageChoice.Sqlite.DeleteFiles(_path);

    private SqliteGrainStorage CreateSut() => new(_path, TimeProvider.System);
}
