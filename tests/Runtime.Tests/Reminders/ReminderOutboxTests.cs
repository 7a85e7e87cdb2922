using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Reminders;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.Persistence;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Reminders;

/// <summary>
/// Reminder changes made in a call join the call's outbox: they commit in the call's state write (or alone when the call
/// ends having written nothing), are dropped with its failure, and reach the schedule only once committed. Once per
/// storage provider; the storage is wrapped to record every write it is given.
/// </summary>
public abstract class ReminderOutboxTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_start = new DateTimeOffset(2026, 1, 1, 10, 0, 0, TimeSpan.Zero).AddTicks(1_234_567);

    private readonly GrainProbe _probe = new();
    private readonly ManualTimeProvider _time = new(s_start);
    private GatedStorage _storage = null!;
    private TestCluster _cluster = null!;

    private protected virtual Task CreateDatabaseAsync() => Task.CompletedTask;

    /// <summary>A storage instance over the test's data (each cluster gets its own and disposes it).</summary>
    private protected abstract IGrainStorage CreateStorage(TimeProvider time);

    private protected virtual ValueTask DeleteDatabaseAsync() => ValueTask.CompletedTask;

    public async Task InitializeAsync()
    {
        await CreateDatabaseAsync();
        _cluster = await StartClusterAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await DeleteDatabaseAsync();
    }

    private ReminderService Reminders => _cluster.Silos[0].Runtime.Reminders;

    [Fact]
    public async Task Call_RegistersThenWritesState_CommitsBothInOneWrite()
    {
        var id = new GrainId("lease", "org/claimed");

        await _cluster.GrainFactory.GetGrain<ILeaseGrain>("org/claimed").ClaimAsync("lease", TimeSpan.FromSeconds(30));

        var write = Assert.Single(WritesOf(id));
        Assert.NotNull(write.StateKey);
        var change = Assert.Single(write.Reminders);
        Assert.Equal("lease", change.Name);
        Assert.Equal(s_start + TimeSpan.FromSeconds(30), Reminders.NextDueAt(id, "lease")!.Value, TimeSpan.FromTicks(10));
        Assert.Single(await _storage.ReadRemindersAsync(dueBy: null, CancellationToken.None));
        await AdvanceAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, _probe.Count("reminder:org/claimed:lease"));
    }

    [Fact]
    public async Task Call_RegistersThenWritesStaleState_StoresAndSchedulesNoReminder()
    {
        var id = new GrainId("lease", "org/stale");
        var grain = _cluster.GrainFactory.GetGrain<ILeaseGrain>("org/stale");
        await grain.TouchAsync();
        await BumpBehindItsBackAsync("org/stale");

        await Assert.ThrowsAsync<InconsistentStateException>(() => grain.ClaimAsync("lease", TimeSpan.FromSeconds(30)));

        Assert.Empty(await _storage.ReadRemindersAsync(dueBy: null, CancellationToken.None));
        Assert.Null(Reminders.NextDueAt(id, "lease"));
        await AdvanceAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(0, _probe.Count("reminder:org/stale:lease"));
    }

    [Fact]
    public async Task Call_UnregistersThenWritesStaleState_KeepsTheReminderStoredAndScheduled()
    {
        var id = new GrainId("lease", "org/kept");
        var grain = _cluster.GrainFactory.GetGrain<ILeaseGrain>("org/kept");
        await grain.ClaimAsync("lease", TimeSpan.FromSeconds(30));
        await BumpBehindItsBackAsync("org/kept");

        await Assert.ThrowsAsync<InconsistentStateException>(() => grain.ReleaseAsync("lease"));

        Assert.Single(await _storage.ReadRemindersAsync(dueBy: null, CancellationToken.None));
        Assert.NotNull(Reminders.NextDueAt(id, "lease"));
        await AdvanceAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, _probe.Count("reminder:org/kept:lease"));
    }

    [Fact]
    public async Task Call_UnregistersThenWritesState_RemovesTheReminderInThatWrite()
    {
        var id = new GrainId("lease", "org/released");
        var grain = _cluster.GrainFactory.GetGrain<ILeaseGrain>("org/released");
        await grain.ClaimAsync("lease", TimeSpan.FromSeconds(30));

        await grain.ReleaseAsync("lease");

        Assert.All(WritesOf(id), write => Assert.NotNull(write.StateKey));
        Assert.Empty(await _storage.ReadRemindersAsync(dueBy: null, CancellationToken.None));
        Assert.Null(Reminders.NextDueAt(id, "lease"));
        await AdvanceAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(0, _probe.Count("reminder:org/released:lease"));
    }

    [Fact]
    public async Task Call_RegistersThenThrows_StoresAndSchedulesNothing()
    {
        var id = new GrainId("lease", "org/failed");

        await Assert.ThrowsAsync<InvalidOperationException>(
            () => _cluster.GrainFactory.GetGrain<ILeaseGrain>("org/failed").ClaimThenFailAsync("lease", TimeSpan.FromSeconds(30)));

        Assert.Empty(WritesOf(id));
        Assert.Empty(await _storage.ReadRemindersAsync(dueBy: null, CancellationToken.None));
        Assert.Null(Reminders.NextDueAt(id, "lease"));
        await AdvanceAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(0, _probe.Count("reminder:org/failed:lease"));
    }

    [Fact]
    public async Task Call_RegistersAndWritesNothing_PendingInTheCallAndDurableWhenItReturns()
    {
        var id = new GrainId("lease", "org/armed");

        var pendingInCall = await _cluster.GrainFactory.GetGrain<ILeaseGrain>("org/armed").ArmAsync("lease", TimeSpan.FromSeconds(30));

        Assert.True(pendingInCall, "inside the call, registering completes at once and leaves the schedule alone");
        var write = Assert.Single(WritesOf(id));
        Assert.Null(write.StateKey);
        Assert.NotNull(Reminders.NextDueAt(id, "lease"));
        await _cluster.DisposeAsync();
        _cluster = await StartClusterAsync();
        await AdvanceAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, _probe.Count("reminder:org/armed:lease"));
    }

    [Fact]
    public async Task Call_RegistersWithBadArguments_ThrowsAtTheCallSiteAndCommitsNothing()
    {
        var id = new GrainId("lease", "org/invalid");

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => _cluster.GrainFactory.GetGrain<ILeaseGrain>("org/invalid").ArmAsync("lease", TimeSpan.FromSeconds(-1)));

        Assert.Empty(WritesOf(id));
        Assert.Null(Reminders.NextDueAt(id, "lease"));
    }

    [Fact]
    public async Task WorkACallLeftRunning_Registers_CommitsAloneAndCompletesOnceDurableAndScheduled()
    {
        var id = new GrainId("lease", "org/later");
        await _cluster.GrainFactory.GetGrain<ILeaseGrain>("org/later").ArmLaterAsync("lease", TimeSpan.FromSeconds(30));

        _probe.Record("arm:org/later");
        await _probe.WaitForAsync("armed:org/later:True");

        var write = Assert.Single(WritesOf(id));
        Assert.Null(write.StateKey);
        Assert.Single(await _storage.ReadRemindersAsync(dueBy: null, CancellationToken.None));
        await AdvanceAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, _probe.Count("reminder:org/later:lease"));
    }

    /// <summary>Every write handed to storage that touched the grain's state or its reminders.</summary>
    private List<StorageWrite> WritesOf(GrainId id) =>
        [.. _storage.Batches.SelectMany(batch => batch)
            .Where(write => (write.StateKey is { } key && key.GrainType == id.Type && key.GrainKey == id.Key)
                || write.Reminders.Any(change => change.GrainId == id))];

    /// <summary>Another process writes the grain's state, so the activation's next write is stale.</summary>
    private Task BumpBehindItsBackAsync(string key) =>
        _storage.CommitAsync([StorageWrite.State(new GrainStateKey("lease", key, "lease"), """{"claims":99}""", 1, [])], CancellationToken.None);

    private async Task AdvanceAsync(TimeSpan delta)
    {
        _time.Advance(delta);
        await Reminders.WhenIdleAsync();
    }

    private Task<TestCluster> StartClusterAsync()
    {
        _storage = new GatedStorage(CreateStorage(_time));
        _storage.Open();
        return TestClusterFactory.StartAsync(_probe, builder => builder.UseStorageInstance(_storage), _time);
    }
}

public sealed class MemoryReminderOutboxTests : ReminderOutboxTests
{
    private readonly MemoryGrainStorage _storage = new();

    private protected override IGrainStorage CreateStorage(TimeProvider time) => _storage;
}

public sealed class SqliteReminderOutboxTests : ReminderOutboxTests
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"orch-{Guid.NewGuid():N}.db");

    private protected override IGrainStorage CreateStorage(TimeProvider time) => new SqliteGrainStorage(_path, time);

    private protected override ValueTask DeleteDatabaseAsync()
    {
        StorageChoice.Sqlite.DeleteFiles(_path);
        return ValueTask.CompletedTask;
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresReminderOutboxTests(PostgresServerFixture postgres) : ReminderOutboxTests
{
    private string _connectionString = null!;

    private protected override async Task CreateDatabaseAsync() => _connectionString = await postgres.Server.CreateDatabaseAsync();

    private protected override IGrainStorage CreateStorage(TimeProvider time) => new PostgresGrainStorage(_connectionString, time);
}
