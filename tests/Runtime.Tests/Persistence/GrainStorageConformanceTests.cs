using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Streams;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Persistence;

/// <summary>The contract every storage provider keeps; one subclass per provider.</summary>
public abstract class GrainStorageConformanceTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_at = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
    private static readonly GrainStateKey s_key = new("profile", "org/alice", "profile");

    private IGrainStorage _storage = null!;

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

        Assert.True(stale.Conflict);
        Assert.False(fresh.Conflict);
        Assert.False(eventsOnly.Conflict);
        var events = await _storage.ReadEventsAsync(0, 100, CancellationToken.None);
        Assert.Equal(["fresh", "alone"], events.Select(e => e.Type));
        Assert.Equal(1, (await _storage.ReadStateAsync(s_key, CancellationToken.None))!.Version);
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
    public async Task Commit_Delete_RemovesRowAndStaleDeleteConflicts()
    {
        await CommitAsync(StorageWrite.State(s_key, "{}", 0, []));
        var staleDelete = StorageWrite.Delete(s_key, 5, []);
        await CommitAsync(staleDelete);
        Assert.True(staleDelete.Conflict);

        var delete = StorageWrite.Delete(s_key, 1, []);
        await CommitAsync(delete);

        Assert.False(delete.Conflict);
        Assert.Null(await _storage.ReadStateAsync(s_key, CancellationToken.None));
        var recreate = StorageWrite.State(s_key, "{}", 0, []);
        await CommitAsync(recreate);
        Assert.Equal(1, recreate.NewVersion);
    }

    [Fact]
    public async Task Reminders_UpsertThenDelete_RoundTrip()
    {
        var grain = new GrainId("alarm", "org/a");
        var entry = new ReminderEntry(grain, "wake", s_at, TimeSpan.FromSeconds(90));
        await CommitAsync(StorageWrite.ReminderOnly(new ReminderChange(grain, "wake", entry)));
        var moved = entry with { FirstDueAt = s_at.AddMinutes(5) };
        await CommitAsync(StorageWrite.ReminderOnly(new ReminderChange(grain, "wake", moved)));

        Assert.Equal(moved, Assert.Single(await _storage.ReadRemindersAsync(CancellationToken.None)));

        await CommitAsync(StorageWrite.ReminderOnly(new ReminderChange(grain, "wake", Upsert: null)));
        Assert.Empty(await _storage.ReadRemindersAsync(CancellationToken.None));
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

    private static EventDraft Event(string key, string type) =>
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

        public Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken) => inner.ReadLastSequenceAsync(cancellationToken);

        public Task<IReadOnlyList<ReminderEntry>> ReadRemindersAsync(CancellationToken cancellationToken) => inner.ReadRemindersAsync(cancellationToken);

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
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in Directory.GetFiles(Path.GetDirectoryName(_path)!, Path.GetFileName(_path) + "*"))
        {
            File.Delete(file);
        }
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
}
