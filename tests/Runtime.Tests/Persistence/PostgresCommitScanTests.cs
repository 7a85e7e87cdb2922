using Npgsql;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Streams;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Persistence;

/// <summary>
/// A commit's cost must not grow with the tables it writes to: it finds the rows it locks by primary key, whatever plan
/// PL/pgSQL caches, and in a young database too (no statistics yet: autovacuum analyses a table a minute or more after it
/// grows, and a commit connection plans its statements at start-up, on tables that may still be empty). Measured before:
/// <c>orch_commit</c> V3's semi-join became a hash join over a sequential scan of the whole state table, and a projection
/// row was looked up through a secondary index that shares the key's first two columns (every row of the tenant's
/// collection visited per lookup). Gathered state reads (many keys per query) are held to the same rule.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresCommitScanTests(PostgresServerFixture postgres)
{
    private const int StoredGrains = 3_000;
    private const int Commits = 20;
    private const int WritesPerCommit = 100;
    private static readonly DateTimeOffset s_at = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task CommitAsync_OnLargeTables_NeverScansStateOrProjections()
    {
        var connectionString = await postgres.Server.CreateDatabaseAsync();
        await using (var filling = await OpenStorageAsync(connectionString))
        {
            foreach (var chunk in Enumerable.Range(0, StoredGrains).Chunk(500))
            {
                await filling.CommitAsync([.. chunk.Select(i => Write(i, expectedVersion: 0))], CancellationToken.None);
            }
        }

        await StorageBackendsExitedAsync(connectionString);
        var before = await ScansAsync(connectionString);

        await using (var storage = await OpenStorageAsync(connectionString))
        {
            // An activation storm first: the reads are gathered into a few queries of many keys each.
            var reads = await Task.WhenAll(Enumerable.Range(0, StoredGrains).Select(i => storage.ReadStateAsync(Key(i), CancellationToken.None)));
            Assert.All(reads, read => Assert.Equal(1, read!.Version));
            for (var commit = 0; commit < Commits; commit++)
            {
                var writes = Enumerable.Range(commit * WritesPerCommit, WritesPerCommit).Select(i => Write(i, expectedVersion: 1)).ToArray();
                await storage.CommitAsync(writes, CancellationToken.None);
                Assert.All(writes, write => Assert.False(write.Conflict));
            }
        }

        await StorageBackendsExitedAsync(connectionString);
        var after = await ScansAsync(connectionString);

        Assert.True(after.Updates - before.Updates >= Commits * WritesPerCommit, $"the commits' updates are counted ({before} → {after})");
        Assert.Equal(before.SequentialScans, after.SequentialScans);
        Assert.Equal(before.SecondaryIndexScans, after.SecondaryIndexScans);
    }

    [Fact]
    public async Task ReadRemindersAsync_ADayOfOneShotsAhead_ReadsWhatIsDueSoonByIndex()
    {
        // A day of idempotency records, one reminder each, and the few a reload wants: the read must not visit the rest.
        var connectionString = await postgres.Server.CreateDatabaseAsync();
        await using (var filling = await OpenStorageAsync(connectionString))
        {
            foreach (var chunk in Enumerable.Range(0, 5_000).Chunk(500))
            {
                await filling.CommitAsync([.. chunk.Select(i => Reminder($"far-{i}", s_at.AddHours(24), TimeSpan.Zero))], CancellationToken.None);
            }

            await filling.CommitAsync(
                [Reminder("soon", s_at.AddMinutes(1), TimeSpan.Zero), Reminder("beat", s_at.AddHours(24), TimeSpan.FromMinutes(1))],
                CancellationToken.None);
        }

        await ScalarAsync(connectionString, "ANALYZE orch_reminders");
        await StorageBackendsExitedAsync(connectionString);
        var before = await ReminderScansAsync(connectionString);
        IReadOnlyList<ReminderEntry> due;
        await using (var storage = await OpenStorageAsync(connectionString))
        {
            due = await storage.ReadRemindersAsync(s_at.AddMinutes(2), CancellationToken.None);
        }

        await StorageBackendsExitedAsync(connectionString);
        var after = await ReminderScansAsync(connectionString);

        Assert.Equal(["beat", "soon"], due.Select(entry => entry.Name).Order());
        Assert.Equal(before.SequentialScans, after.SequentialScans);
        Assert.True(after.IndexScans > before.IndexScans, $"the read used the reminders' indexes ({before} → {after})");
    }

    private static StorageWrite Reminder(string name, DateTimeOffset dueAt, TimeSpan period) =>
        StorageWrite.ReminderOnly(new ReminderChange(new GrainId("idempotency", $"acme/{name}"), name, new ReminderEntry(new GrainId("idempotency", $"acme/{name}"), name, dueAt, period)));

    private static async Task<(long SequentialScans, long IndexScans)> ReminderScansAsync(string connectionString) =>
        ((long)(await ScalarAsync(connectionString, "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'orch_reminders'"))!,
         (long)(await ScalarAsync(connectionString, "SELECT coalesce(sum(idx_scan), 0)::bigint FROM pg_stat_user_indexes WHERE relname = 'orch_reminders' AND indexrelname <> 'orch_reminders_pkey'"))!);

    private static GrainStateKey Key(int grain) => new("task", $"acme/t{grain}", "task");

    private static StorageWrite Write(int grain, long expectedVersion) =>
        StorageWrite.State(
            Key(grain),
            $$"""{"n":{{grain}}}""",
            expectedVersion,
            [new EventDraft(new StreamId("tasks", $"acme/t{grain}"), "task.updated", s_at, "{}")],
            [ProjectionChange.Set(new ProjectionRow("tasks", "acme", $"t{grain}", $$"""{"n":{{grain}}}""") { Status = "ready" })]);

    private static string Unpooled(string connectionString) => new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString;

    private static async Task<PostgresGrainStorage> OpenStorageAsync(string connectionString)
    {
        var storage = new PostgresGrainStorage(connectionString);
        await storage.InitializeAsync(CancellationToken.None);
        return storage;
    }

    /// <summary>
    /// Sequential scans of the two tables a commit locks rows in, scans of the projections' secondary (list) indexes, and
    /// the updates of the state table.
    /// </summary>
    private static async Task<(long SequentialScans, long SecondaryIndexScans, long Updates)> ScansAsync(string connectionString)
    {
        var sequential = (long)(await ScalarAsync(connectionString,
            "SELECT sum(seq_scan)::bigint FROM pg_stat_user_tables WHERE relname IN ('orch_grain_state', 'orch_projections')"))!;
        var secondary = (long)(await ScalarAsync(connectionString,
            "SELECT sum(idx_scan)::bigint FROM pg_stat_user_indexes WHERE relname = 'orch_projections' AND indexrelname <> 'orch_projections_pkey'"))!;
        var updates = (long)(await ScalarAsync(connectionString, "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'orch_grain_state'"))!;
        return (sequential, secondary, updates);
    }

    /// <summary>A backend's statistics reach the shared counters at the latest when it exits.</summary>
    private static Task StorageBackendsExitedAsync(string connectionString) =>
        Eventually.TrueAsync(
            async () => (long)(await ScalarAsync(connectionString, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"))! == 0,
            "the storage's backends exit");

    private static async Task<object?> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(Unpooled(connectionString));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
