using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Streams;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Persistence;

/// <summary>The contract every storage provider keeps; one subclass per provider.</summary>
public abstract class GrainStorageConformanceTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_at = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
    private static readonly GrainStateKey s_key = new("profile", "org/alice", "profile");

    private IGrainStorage _storage = null!;

    private protected IGrainStorage Sut => _storage;

    private protected abstract Task<IGrainStorage> CreateSutAsync();

    /// <summary>Another instance on the same data, as a second process would have (memory: the same instance).</summary>
    private protected abstract IGrainStorage CreateSecondInstance();

    public async Task InitializeAsync()
    {
        _storage = await CreateSutAsync();
        await _storage.InitializeAsync(CancellationToken.None);
    }

    public virtual async Task DisposeAsync() => await _storage.DisposeAsync();

    [Fact]
    public async Task ReadState_NothingStored_ReturnsNull() =>
        Assert.Null(await _storage.ReadStateAsync(s_key, CancellationToken.None));

    [Fact]
    public async Task ReadState_ManyConcurrentReadsOfLiveDeletedAndMissingRows_EachGetsItsOwnRow()
    {
        var keys = Enumerable.Range(0, 600).Select(i => new GrainStateKey("storm", $"grain-{i:D3}", "s")).ToArray();
        await CommitAsync(keys.Where((_, i) => i % 3 != 2).Select(key => StorageWrite.State(key, $$"""{"key":"{{key.GrainKey}}"}""", 0, [])).ToArray());
        await CommitAsync(keys.Where((_, i) => i % 3 == 1).Select(key => StorageWrite.Delete(key, 1, [])).ToArray());

        // Every key twice, in an interleaved order, all at once: a provider that gathers reads must still answer each its own.
        var reads = keys.Concat(keys.Reverse()).Select(key => (key, read: _storage.ReadStateAsync(key, CancellationToken.None))).ToArray();
        await Task.WhenAll(reads.Select(read => read.read));

        foreach (var (key, read) in reads)
        {
            var index = int.Parse(key.GrainKey["grain-".Length..], System.Globalization.CultureInfo.InvariantCulture);
            var record = await read;
            if (index % 3 == 0)
            {
                Assert.Equal((1L, key.GrainKey), (record!.Version, System.Text.Json.JsonDocument.Parse(record.Data).RootElement.GetProperty("key").GetString()));
            }
            else
            {
                Assert.Null(record); // a tombstone (deleted) or no row at all
            }
        }
    }

    [Fact]
    public async Task Commit_NewState_ReadsBackWithVersionOne()
    {
        var write = StorageWrite.State(s_key, """{"name":"Alice"}""", 0, []);

        await CommitAsync(write);

        Assert.False(write.Conflict);
        Assert.Equal(1, write.NewVersion);
        var stored = await _storage.ReadStateAsync(s_key, CancellationToken.None);
        Assert.Equal(1, stored!.Version);
        Assert.Equal("Alice", System.Text.Json.JsonDocument.Parse(stored.Data).RootElement.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Commit_State_ReadsBackByteForByteWhenInsertedAndWhenUpdated()
    {
        // What a parsed form would change: spacing, key order, a repeated key, escapes, number spelling.
        const string first = """{ "z":1,  "a":"\u00e9", "a":2 }""";
        const string second = """{"n":1.50E+2,   "m":[ ]}""";

        await CommitAsync(StorageWrite.State(s_key, first, 0, []));
        Assert.Equal(first, (await _storage.ReadStateAsync(s_key, CancellationToken.None))!.Data);
        await CommitAsync(StorageWrite.State(s_key, second, 1, []));
        Assert.Equal(second, (await _storage.ReadStateAsync(s_key, CancellationToken.None))!.Data);
    }

    [Fact]
    public async Task Commit_UpdateWithCurrentVersion_IncrementsVersion()
    {
        await CommitAsync(StorageWrite.State(s_key, """{"n":1}""", 0, []));
        var second = StorageWrite.State(s_key, """{"n":2}""", 1, []);

        await CommitAsync(second);

        Assert.Equal(2, second.NewVersion);
        Assert.Equal(2, (await _storage.ReadStateAsync(s_key, CancellationToken.None))!.Version);
    }

    [Fact]
    public async Task Commit_StaleVersion_ConflictsAndKeepsStoredState()
    {
        await CommitAsync(StorageWrite.State(s_key, """{"n":1}""", 0, []));
        await CommitAsync(StorageWrite.State(s_key, """{"n":2}""", 1, []));
        var stale = StorageWrite.State(s_key, """{"n":99}""", 1, []);

        await CommitAsync(stale);

        Assert.True(stale.Conflict);
        var stored = await _storage.ReadStateAsync(s_key, CancellationToken.None);
        Assert.Equal(2, stored!.Version);
        Assert.Contains("2", stored.Data);
    }

    [Fact]
    public async Task Commit_InsertWhileRowExists_Conflicts()
    {
        await CommitAsync(StorageWrite.State(s_key, """{"n":1}""", 0, []));
        var blindInsert = StorageWrite.State(s_key, """{"n":5}""", 0, []);

        await CommitAsync(blindInsert);

        Assert.True(blindInsert.Conflict);
        Assert.Equal(1, (await _storage.ReadStateAsync(s_key, CancellationToken.None))!.Version);
    }

    [Fact]
    public async Task Commit_BatchWithOneStaleWrite_OnlyThatWriterFailsAndItsEventsAreNotStored()
    {
        var other = s_key with { GrainKey = "org/bob" };
        await CommitAsync(StorageWrite.State(s_key, """{"n":1}""", 0, []));
        var stale = StorageWrite.State(s_key, """{"n":2}""", 7, [Event("alice", "stale")]);
        var fresh = StorageWrite.State(other, """{"n":1}""", 0, [Event("bob", "fresh")]);
        var eventsOnly = StorageWrite.EventsOnly([Event("carol", "alone")]);

        await CommitAsync(stale, fresh, eventsOnly);

        Assert.Equal((true, 0L, 0L), (stale.Conflict, stale.NewVersion, stale.FirstSequence));
        Assert.Equal((false, 1L, 1L), (fresh.Conflict, fresh.NewVersion, fresh.FirstSequence));
        Assert.Equal((false, 0L, 2L), (eventsOnly.Conflict, eventsOnly.NewVersion, eventsOnly.FirstSequence));
        var events = await _storage.ReadEventsAsync(0, 100, CancellationToken.None);
        Assert.Equal(["fresh", "alone"], events.Select(e => e.Type));
        Assert.Equal(1, (await _storage.ReadStateAsync(s_key, CancellationToken.None))!.Version);
        Assert.Equal(1, (await _storage.ReadStateAsync(other, CancellationToken.None))!.Version);
    }

    [Fact]
    public async Task Commit_Events_GetContiguousSequencesInCommitOrder()
    {
        var first = StorageWrite.EventsOnly([Event("a", "e1"), Event("a", "e2")]);
        var second = StorageWrite.State(s_key, "{}", 0, [Event("b", "e3")]);
        await CommitAsync(first, second);
        var third = StorageWrite.EventsOnly([Event("c", "e4")]);
        await CommitAsync(third);

        var all = await _storage.ReadEventsAsync(0, 100, CancellationToken.None);
        var afterSecond = await _storage.ReadEventsAsync(2, 1, CancellationToken.None);

        Assert.Equal([1L, 2, 3, 4], all.Select(e => e.Sequence));
        Assert.Equal(["e1", "e2", "e3", "e4"], all.Select(e => e.Type));
        Assert.Equal([1L, 3, 4], new[] { first.FirstSequence, second.FirstSequence, third.FirstSequence });
        Assert.Equal("e3", Assert.Single(afterSecond).Type);
        Assert.Equal(4, await _storage.ReadLastSequenceAsync(CancellationToken.None));
        Assert.Equal(new StreamId("test", "a"), all[0].StreamId);
        Assert.Equal(s_at, all[0].Timestamp);
        Assert.Equal("e1", System.Text.Json.JsonDocument.Parse(all[0].Data).RootElement.GetProperty("label").GetString());
    }

    [Fact]
    public async Task Commit_DeleteThenRecreate_NeverReusesAVersion()
    {
        await CommitAsync(StorageWrite.State(s_key, """{"n":1}""", 0, []));
        var staleDelete = StorageWrite.Delete(s_key, 5, []);
        await CommitAsync(staleDelete);
        Assert.True(staleDelete.Conflict);

        var delete = StorageWrite.Delete(s_key, 1, []);
        await CommitAsync(delete);

        Assert.Equal((false, 0L), (delete.Conflict, delete.NewVersion));
        Assert.Null(await _storage.ReadStateAsync(s_key, CancellationToken.None));
        var recreate = StorageWrite.State(s_key, """{"n":2}""", 0, []);
        await CommitAsync(recreate);
        Assert.Equal(3, recreate.NewVersion);
        var writerFromBeforeTheDelete = StorageWrite.State(s_key, """{"n":99}""", 1, []);
        await CommitAsync(writerFromBeforeTheDelete);
        Assert.True(writerFromBeforeTheDelete.Conflict);
        var stored = await _storage.ReadStateAsync(s_key, CancellationToken.None);
        Assert.Equal(3, stored!.Version);
        Assert.Equal(2, System.Text.Json.JsonDocument.Parse(stored.Data).RootElement.GetProperty("n").GetInt32());
    }

    [Theory]
    [MemberData(nameof(StateWriteRuleCases.Indexes), MemberType = typeof(StateWriteRuleCases))]
    public async Task Commit_StateWriteRuleCase_MatchesRuleTable(int index)
    {
        var rule = StateWriteRuleCases.All[index];
        await ArrangeAsync(rule.Stored);
        var write = rule.IsDelete
            ? StorageWrite.Delete(s_key, rule.ExpectedVersion, [Event("a", "with-write")])
            : StorageWrite.State(s_key, """{"n":7}""", rule.ExpectedVersion, [Event("a", "with-write")]);

        await CommitAsync(write);

        Assert.Equal((rule.Conflict, rule.NewVersion), (write.Conflict, write.NewVersion));
        var stored = await _storage.ReadStateAsync(s_key, CancellationToken.None);
        Assert.Equal(rule.ReadVersionAfter, stored?.Version);
        if (stored is not null)
        {
            var expectedN = rule.Conflict ? 2 : 7;
            Assert.Equal(expectedN, System.Text.Json.JsonDocument.Parse(stored.Data).RootElement.GetProperty("n").GetInt32());
        }

        var events = await _storage.ReadEventsAsync(0, 100, CancellationToken.None);
        Assert.Equal(rule.Conflict ? 0 : 1, events.Count);
    }

    [Fact]
    public async Task Reminders_UpsertThenDelete_RoundTrip()
    {
        var grain = new GrainId("alarm", "org/a");
        var entry = new ReminderEntry(grain, "wake", s_at, TimeSpan.FromSeconds(90));
        await CommitAsync(StorageWrite.ReminderOnly(new ReminderChange(grain, "wake", entry)));
        var moved = entry with { FirstDueAt = s_at.AddMinutes(5) };
        await CommitAsync(StorageWrite.ReminderOnly(new ReminderChange(grain, "wake", moved)));

        Assert.Equal(moved, Assert.Single(await _storage.ReadRemindersAsync(dueBy: null, CancellationToken.None)));

        await CommitAsync(StorageWrite.ReminderOnly(new ReminderChange(grain, "wake", Upsert: null)));
        Assert.Empty(await _storage.ReadRemindersAsync(dueBy: null, CancellationToken.None));
    }

    [Fact]
    public async Task Cursor_Written_ReadsBackAndNeverMovesBackwards()
    {
        Assert.Equal(0, await _storage.ReadCursorAsync("sub", CancellationToken.None));

        await _storage.WriteCursorAsync("sub", 10, CancellationToken.None);
        await _storage.WriteCursorAsync("sub", 4, CancellationToken.None);

        Assert.Equal(10, await _storage.ReadCursorAsync("sub", CancellationToken.None));
    }

    [Fact]
    public async Task Initialize_SecondInstanceOnSameData_KeepsDataAndSeesCommits()
    {
        await CommitAsync(StorageWrite.State(s_key, """{"n":1}""", 0, [Event("a", "e1")]));
        await using var second = CreateSecondInstance();

        await second.InitializeAsync(CancellationToken.None);

        Assert.Equal(1, (await second.ReadStateAsync(s_key, CancellationToken.None))!.Version);
        Assert.Equal(1, await second.ReadLastSequenceAsync(CancellationToken.None));
    }

    [Fact]
    public async Task CheckHealth_Initialized_Succeeds() => await _storage.CheckHealthAsync(CancellationToken.None);

    private Task CommitAsync(params StorageWrite[] writes) => _storage.CommitAsync(writes, CancellationToken.None);

    private async Task ArrangeAsync(StoredBefore stored)
    {
        if (stored == StoredBefore.Nothing)
        {
            return;
        }

        var arrangement = new List<StorageWrite>
        {
            StorageWrite.State(s_key, """{"n":1}""", 0, []),
            StorageWrite.State(s_key, """{"n":2}""", 1, []),
        };
        if (stored == StoredBefore.TombstoneAtThree)
        {
            arrangement.Add(StorageWrite.Delete(s_key, 2, []));
        }

        foreach (var write in arrangement)
        {
            await CommitAsync(write);
            Assert.False(write.Conflict);
        }
    }

    private protected static EventDraft Event(string key, string type) =>
        new(new StreamId("test", key), type, s_at, $$"""{"label":"{{type}}"}""");
}

public sealed class MemoryGrainStorageTests : GrainStorageConformanceTests
{
    private readonly MemoryGrainStorage _storage = new();

    private protected override Task<IGrainStorage> CreateSutAsync() => Task.FromResult<IGrainStorage>(_storage);

    private protected override IGrainStorage CreateSecondInstance() => new SharedMemoryView(_storage);

    /// <summary>Memory has no second process; a view that does not dispose the shared instance stands in.</summary>
    private sealed class SharedMemoryView(MemoryGrainStorage inner) : IGrainStorage
    {
        public string ProviderName => inner.ProviderName;

        public int MaxConcurrentCommits => inner.MaxConcurrentCommits;

        public Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);

        public Task<GrainStateRecord?> ReadStateAsync(GrainStateKey key, CancellationToken cancellationToken) => inner.ReadStateAsync(key, cancellationToken);

        public Task CommitAsync(IReadOnlyList<StorageWrite> writes, CancellationToken cancellationToken) => inner.CommitAsync(writes, cancellationToken);

        public Task<IReadOnlyList<StreamEvent>> ReadEventsAsync(long afterSequence, int limit, CancellationToken cancellationToken) => inner.ReadEventsAsync(afterSequence, limit, cancellationToken);

        public Task<IReadOnlyList<StreamEvent>> ReadTenantEventsAsync(string tenant, long afterSequence, int limit, CancellationToken cancellationToken) =>
            inner.ReadTenantEventsAsync(tenant, afterSequence, limit, cancellationToken);

        public Task<ProjectionPage> QueryProjectionsAsync(ProjectionQuery query, CancellationToken cancellationToken) =>
            inner.QueryProjectionsAsync(query, cancellationToken);

        public Task<ProjectionRow?> ReadProjectionAsync(string collection, string tenant, string id, CancellationToken cancellationToken) =>
            inner.ReadProjectionAsync(collection, tenant, id, cancellationToken);

        public Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken) => inner.ReadLastSequenceAsync(cancellationToken);

        public Task<IReadOnlyList<ReminderEntry>> ReadRemindersAsync(DateTimeOffset? dueBy, CancellationToken cancellationToken) => inner.ReadRemindersAsync(dueBy, cancellationToken);

        public Task<long> ReadCursorAsync(string subscriber, CancellationToken cancellationToken) => inner.ReadCursorAsync(subscriber, cancellationToken);

        public Task WriteCursorAsync(string subscriber, long sequence, CancellationToken cancellationToken) => inner.WriteCursorAsync(subscriber, sequence, cancellationToken);

        public Task CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);

        public IAsyncDisposable WatchCommits(Action<long> onCommit) => inner.WatchCommits(onCommit);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

public sealed class SqliteGrainStorageTests : GrainStorageConformanceTests
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"orch-{Guid.NewGuid():N}.db");

    private protected override Task<IGrainStorage> CreateSutAsync() => Task.FromResult<IGrainStorage>(new SqliteGrainStorage(_path, TimeProvider.System));

    private protected override IGrainStorage CreateSecondInstance() => new SqliteGrainStorage(_path, TimeProvider.System);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        StorageChoice.Sqlite.DeleteFiles(_path);
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresGrainStorageTests(PostgresServerFixture postgres) : GrainStorageConformanceTests
{
    private string _connectionString = null!;

    private protected override async Task<IGrainStorage> CreateSutAsync()
    {
        _connectionString = await postgres.Server.CreateDatabaseAsync();
        return new PostgresGrainStorage(_connectionString);
    }

    private protected override IGrainStorage CreateSecondInstance() => new PostgresGrainStorage(_connectionString);

    [Fact]
    public async Task Commit_OverlappingBatchesInOppositeOrdersFromTwoInstances_NeverDeadlock()
    {
        const int Rounds = 25;
        const int RowsPerKind = 100;
        await using var first = new PostgresGrainStorage(_connectionString);
        await using var second = new PostgresGrainStorage(_connectionString);
        var existing = Enumerable.Range(0, RowsPerKind).Select(i => new GrainStateKey("race", $"existing-{i:D2}", "s")).ToArray();
        await Sut.CommitAsync(existing.Select(key => StorageWrite.State(key, "{}", 0, [])).ToList(), CancellationToken.None);

        // Updates and inserts take turns: a batch that updates existing rows first would otherwise queue behind
        // the others there and hide an unordered insert.
        for (var round = 0; round < Rounds; round++)
        {
            var updating = round % 2 == 1;
            var keys = updating
                ? existing
                : Enumerable.Range(0, RowsPerKind).Select(i => new GrainStateKey("race", $"new-{round}-{i:D2}", "s")).ToArray();
            var expected = updating ? (round / 2) + 1 : 0;
            StorageWrite[] Batch(bool descending) => (descending ? keys.Reverse() : keys)
                .Select(key => StorageWrite.State(key, "{}", expected, [Event(key.GrainKey, "w")]))
                .ToArray();
            var batches = new[] { (first, Batch(false)), (second, Batch(true)), (first, Batch(true)), (second, Batch(false)) };

            await Task.WhenAll(batches.Select(batch => Task.Run(() => batch.Item1.CommitAsync(batch.Item2, CancellationToken.None))));

            foreach (var key in keys)
            {
                var winners = batches.SelectMany(batch => batch.Item2).Where(write => write.StateKey == key && !write.Conflict).ToList();
                Assert.True(winners.Count == 1, $"round {round}: {key.GrainKey} stored by {winners.Count} writers");
            }
        }

        foreach (var key in existing)
        {
            Assert.Equal((Rounds / 2) + 1, (await Sut.ReadStateAsync(key, CancellationToken.None))!.Version);
        }

        Assert.Equal(Rounds * RowsPerKind, await Sut.ReadLastSequenceAsync(CancellationToken.None));
    }
}
