using System.Globalization;
using Npgsql;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Projections;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Persistence;

/// <summary>
/// Commits take the row locks of projections and reminders in one key order, whatever exists when they start, so
/// concurrent commits wait for each other in one direction and never deadlock. Each test stops one commit just before it
/// writes row a, by a trigger that waits for a lock the test holds, and lets two others run meanwhile.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresCommitLockOrderTests(PostgresServerFixture postgres)
{
    private const long PauseLock = 4242;
    private const int PauseMark = 4242;

    /// <summary>The rows of one table: how a write sets (to a number) or removes one, and what the table holds.</summary>
    private sealed record Rows(
        string Table,
        string PausedWhen,
        Func<string, int, StorageWrite> Set,
        Func<string, StorageWrite> Remove,
        Func<IGrainStorage, Task<string[]>> ReadAsync,
        string MarkedRowsSql);

    private static readonly GrainId s_grain = new("race", "acme/g");
    private static readonly DateTimeOffset s_due = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private static readonly Rows s_projections = new(
        "orch_projections",
        "NEW.document::text LIKE '%\"n\":4242}'",
        (id, n) => StorageWrite.OutboxOnly(new CallOutbox([], [ProjectionChange.Set(new ProjectionRow("race", "acme", id, $$"""{"n":{{n}}}"""))], [])),
        id => StorageWrite.OutboxOnly(new CallOutbox([], [ProjectionChange.Remove("race", "acme", id)], [])),
        async storage => (await storage.QueryProjectionsAsync(new ProjectionQuery("race", "acme"), CancellationToken.None)).Items
            .Select(row => $"{row.Id}={row.Document}").ToArray(),
        "SELECT count(*) FROM orch_projections WHERE updated_at = '-infinity'");

    private static readonly Rows s_reminders = new(
        "orch_reminders",
        "NEW.period = interval '4242 seconds'",
        (name, n) => StorageWrite.ReminderOnly(new ReminderChange(s_grain, name, new ReminderEntry(s_grain, name, s_due, TimeSpan.FromSeconds(n)))),
        name => StorageWrite.ReminderOnly(new ReminderChange(s_grain, name, Upsert: null)),
        async storage => (await storage.ReadRemindersAsync(dueBy: null, CancellationToken.None)).OrderBy(entry => entry.Name, StringComparer.Ordinal)
            .Select(entry => $"{entry.Name}={{\"n\":{entry.Period.TotalSeconds.ToString(CultureInfo.InvariantCulture)}}}").ToArray(),
        "SELECT count(*) FROM orch_reminders WHERE first_due_at = '-infinity'");

    public static TheoryData<string, bool> Cases => new()
    {
        { "orch_projections", false },
        { "orch_projections", true },
        { "orch_reminders", false },
        { "orch_reminders", true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Commit_RowInsertedBetweenAnotherCommitsStartAndItsWriteOfThatRow_NoCommitDeadlocks(string table, bool firstRemovesB)
    {
        var rows = Of(table);
        // T1 writes a (new when it starts) and removes or rewrites b (which exists), and stops just before it writes a.
        // T3 inserts a and commits; T2 writes a and b. Had T1 locked b before a (rows that exist first, or removals
        // first), T2 would hold a and wait for b while T1 waits for a: a deadlock, and one of the commits aborted.
        var connectionString = await postgres.Server.CreateDatabaseAsync();
        await using var first = new PostgresGrainStorage(connectionString);
        await using var second = new PostgresGrainStorage(connectionString);
        await using var third = new PostgresGrainStorage(connectionString);
        foreach (var storage in new[] { first, second, third })
        {
            await storage.InitializeAsync(CancellationToken.None);
        }

        await using var control = new NpgsqlConnection(connectionString);
        await control.OpenAsync();
        await ExecuteAsync(control, $$"""
            CREATE FUNCTION test_pause() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF {{rows.PausedWhen}} THEN
                    PERFORM pg_advisory_xact_lock_shared({{PauseLock}});
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER test_pause BEFORE INSERT ON {{rows.Table}} FOR EACH ROW EXECUTE FUNCTION test_pause();
            """);
        await third.CommitAsync([rows.Set("b", 1)], CancellationToken.None);
        await ExecuteAsync(control, $"SELECT pg_advisory_lock({PauseLock})");

        var t1 = Task.Run(() => first.CommitAsync([rows.Set("a", PauseMark), firstRemovesB ? rows.Remove("b") : rows.Set("b", 11)], CancellationToken.None));
        await WaitUntilAsync(control, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", 1);
        await third.CommitAsync([rows.Set("a", 3)], CancellationToken.None);
        var t2 = Task.Run(() => second.CommitAsync([rows.Set("a", 2), rows.Set("b", 2)], CancellationToken.None));
        // T2 either commits (it needs no lock T1 holds) or waits for one; the watch has a connection of its own.
        await using (var watch = new NpgsqlConnection(connectionString))
        {
            await watch.OpenAsync();
            using var stopWatching = new CancellationTokenSource();
            var t2Waits = WaitUntilAsync(watch, "SELECT count(*) FROM pg_locks WHERE NOT granted", 2, stopWatching.Token);
            await Task.WhenAny(t2, t2Waits);
            await stopWatching.CancelAsync();
            await t2Waits.ContinueWith(_ => { }, TaskScheduler.Default);
        }

        await ExecuteAsync(control, $"SELECT pg_advisory_unlock({PauseLock})");

        await Task.WhenAll(t1, t2).WaitAsync(TimeSpan.FromSeconds(30));
        string[] expected = firstRemovesB ? [$$"""a={"n":{{PauseMark}}}"""] : [$$"""a={"n":{{PauseMark}}}""", """b={"n":11}"""];
        Assert.Equal(expected, await rows.ReadAsync(first));
        Assert.Equal(0L, await ScalarAsync(control, rows.MarkedRowsSql));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Commit_RemovalOfARowThatNeverExisted_LeavesNoRow(string table, bool alsoSetsAnother)
    {
        var rows = Of(table);
        var connectionString = await postgres.Server.CreateDatabaseAsync();
        await using var storage = new PostgresGrainStorage(connectionString);
        await storage.InitializeAsync(CancellationToken.None);

        await storage.CommitAsync(alsoSetsAnother ? [rows.Remove("a"), rows.Set("b", 5)] : [rows.Remove("a")], CancellationToken.None);

        Assert.Equal(alsoSetsAnother ? ["""b={"n":5}"""] : [], await rows.ReadAsync(storage));
        await using var control = new NpgsqlConnection(connectionString);
        await control.OpenAsync();
        Assert.Equal(0L, await ScalarAsync(control, rows.MarkedRowsSql));
    }

    private static Rows Of(string table) => table == s_projections.Table ? s_projections : s_reminders;

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static async Task WaitUntilAsync(NpgsqlConnection connection, string countSql, long atLeast, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await ScalarAsync(connection, countSql) < atLeast)
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for '{countSql}' to reach {atLeast}");
            await Task.Delay(10, cancellationToken);
        }
    }
}
