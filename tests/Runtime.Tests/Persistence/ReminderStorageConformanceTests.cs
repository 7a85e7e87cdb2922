using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Streams;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Persistence;

/// <summary>How every storage provider stores reminders; one subclass per provider.</summary>
public abstract class ReminderStorageConformanceTests : IAsyncLifetime
{
    // Sub-microsecond ticks: finer than Postgres keeps.
    private static readonly DateTimeOffset s_at = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero).AddTicks(1_234_567);
    private static readonly GrainId s_grain = new("alarm", "org/a");

    private IGrainStorage _storage = null!;

    private protected abstract Task<IGrainStorage> CreateSutAsync();

    public async Task InitializeAsync()
    {
        _storage = await CreateSutAsync();
        await _storage.InitializeAsync(CancellationToken.None);
    }

    public virtual async Task DisposeAsync() => await _storage.DisposeAsync();

    [Fact]
    public async Task Commit_SubMicrosecondTimes_ReadBackEqualToTheEntry()
    {
        var entry = new ReminderEntry(s_grain, "wake", s_at, TimeSpan.FromTicks(123_456_789));

        await CommitAsync(Register(entry));

        Assert.Equal(entry, Assert.Single(await ReadAsync()));
    }

    [Fact]
    public async Task Commit_UnregisterThenRegisterInOneBatch_LeavesItRegistered()
    {
        var entry = new ReminderEntry(s_grain, "wake", s_at, TimeSpan.FromSeconds(90));
        await CommitAsync(Register(entry with { Period = TimeSpan.FromSeconds(5) }));

        await CommitAsync(Unregister("wake"), Register(entry));

        Assert.Equal(entry, Assert.Single(await ReadAsync()));
    }

    [Fact]
    public async Task Commit_RegisterThenUnregisterInOneBatch_LeavesNothing()
    {
        await CommitAsync(Register(new ReminderEntry(s_grain, "wake", s_at, TimeSpan.Zero)), Unregister("wake"));

        Assert.Empty(await ReadAsync());
    }

    [Fact]
    public async Task Commit_TwoUpsertsOfOneReminderInOneBatch_LastWinsAndOtherWritesCommit()
    {
        var first = new ReminderEntry(s_grain, "wake", s_at, TimeSpan.FromSeconds(1));
        var last = first with { FirstDueAt = s_at.AddMinutes(1), Period = TimeSpan.FromSeconds(2) };
        var other = new ReminderEntry(new GrainId("alarm", "org/b"), "wake", s_at, TimeSpan.Zero);
        var state = StorageWrite.State(new GrainStateKey("profile", "org/a", "profile"), "{}", 0, []);
        var events = StorageWrite.EventsOnly([new EventDraft(new StreamId("test", "a"), "e1", s_at, "{}")]);

        await CommitAsync(Register(first), state, Register(other), events, Register(last));

        Assert.Equal([last, other], (await ReadAsync()).OrderBy(entry => entry.GrainId.Key));
        Assert.Equal(1, state.NewVersion);
        Assert.Equal(1, events.FirstSequence);
    }

    [Fact]
    public async Task Commit_ChangesOfManyReminders_EachEndsAtItsLastChange()
    {
        var a = new ReminderEntry(s_grain, "a", s_at, TimeSpan.Zero);
        var b = new ReminderEntry(s_grain, "b", s_at, TimeSpan.Zero);
        var c = new ReminderEntry(s_grain, "c", s_at, TimeSpan.Zero);
        await CommitAsync(Register(a), Register(b));

        await CommitAsync(Unregister("a"), Register(c), Unregister("b"), Register(a), Unregister("c"), Unregister("never"));

        Assert.Equal([a], await ReadAsync());
    }

    [Fact]
    public async Task Read_DueBy_EveryPeriodicReminderAndTheOneShotsDueByThen()
    {
        var soon = new ReminderEntry(s_grain, "soon", s_at.AddMinutes(1), TimeSpan.Zero);
        var exactly = new ReminderEntry(s_grain, "exactly", s_at.AddMinutes(2), TimeSpan.Zero);
        var later = new ReminderEntry(s_grain, "later", s_at.AddHours(24), TimeSpan.Zero);
        var periodic = new ReminderEntry(s_grain, "periodic", s_at.AddHours(24), TimeSpan.FromHours(1));
        await CommitAsync(Register(soon), Register(exactly), Register(later), Register(periodic));

        var due = await _storage.ReadRemindersAsync(s_at.AddMinutes(2), CancellationToken.None);

        Assert.Equal(["exactly", "periodic", "soon"], due.Select(entry => entry.Name).Order());
        Assert.Equal(4, (await ReadAsync()).Count);
    }

    private Task CommitAsync(params StorageWrite[] writes) => _storage.CommitAsync(writes, CancellationToken.None);

    private Task<IReadOnlyList<ReminderEntry>> ReadAsync() => _storage.ReadRemindersAsync(dueBy: null, CancellationToken.None);

    private static StorageWrite Register(ReminderEntry entry) =>
        StorageWrite.ReminderOnly(new ReminderChange(entry.GrainId, entry.Name, entry));

    private static StorageWrite Unregister(string name) => StorageWrite.ReminderOnly(new ReminderChange(s_grain, name, Upsert: null));
}

public sealed class MemoryReminderStorageTests : ReminderStorageConformanceTests
{
    private protected override Task<IGrainStorage> CreateSutAsync() => Task.FromResult<IGrainStorage>(new MemoryGrainStorage());
}

public sealed class SqliteReminderStorageTests : ReminderStorageConformanceTests
{
    private readonly StorageChoice.Sqlite _file = new();

    private protected override Task<IGrainStorage> CreateSutAsync() => Task.FromResult<IGrainStorage>(new SqliteGrainStorage(_file.Path, TimeProvider.System));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _file.DisposeAsync();
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresReminderStorageTests(PostgresServerFixture postgres) : ReminderStorageConformanceTests
{
    private protected override async Task<IGrainStorage> CreateSutAsync() => new PostgresGrainStorage(await postgres.Server.CreateDatabaseAsync());
}
