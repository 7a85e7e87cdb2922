using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Persistence;

/// <summary>Grain state and events through the runtime, against every provider.</summary>
public abstract class GrainPersistenceTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private StorageChoice _storage = null!;
    private TestCluster _cluster = null!;

    private protected abstract Task<StorageChoice> CreateStorageAsync();

    public async Task InitializeAsync()
    {
        _storage = await CreateStorageAsync();
        _cluster = await TestClusterFactory.StartAsync(_probe, _storage.Apply);
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _storage.DisposeAsync();
    }

    [Fact]
    public async Task WriteState_ThenSiloRestarts_NewActivationReadsIt()
    {
        var etag = await _cluster.GrainFactory.GetGrain<IProfileGrain>("org/alice").RenameAsync("Alice");

        await _cluster.RestartSiloAsync(_cluster.Silos[0]);
        var profile = _cluster.GrainFactory.GetGrain<IProfileGrain>("org/alice");

        Assert.Equal("1", etag);
        Assert.Equal("Alice", (await profile.GetAsync()).Name);
        Assert.Equal("1", await profile.GetEtagAsync());
    }

    [Fact]
    public async Task WriteState_InAFreshCluster_ReadsWhatTheFirstWrote()
    {
        await _cluster.GrainFactory.GetGrain<IProfileGrain>("org/dora").RenameAsync("Dora");
        await _cluster.GrainFactory.GetGrain<IProfileGrain>("org/dora").RenameAsync("Dora II");
        await _cluster.DisposeAsync();

        _cluster = await TestClusterFactory.StartAsync(_probe, _storage.Apply);
        var profile = await _cluster.GrainFactory.GetGrain<IProfileGrain>("org/dora").GetAsync();

        Assert.Equal("Dora II", profile.Name);
        Assert.Equal(2, profile.Version);
    }

    [Fact]
    public async Task WriteState_StaleEtag_ThrowsInconsistentStateAndReactivatesFromStorage()
    {
        var grain = _cluster.GrainFactory.GetGrain<IProfileGrain>("org/bob");
        await grain.RenameAsync("Bob");
        // Another process writes the same state behind this activation's back.
        var storage = _cluster.Silos[0].Runtime.Storage;
        await storage.CommitAsync([StorageWrite.State(new GrainStateKey("profile", "org/bob", "profile"), """{"name":"Robert","version":7}""", 1, [])], CancellationToken.None);

        var exception = await Assert.ThrowsAsync<InconsistentStateException>(() => grain.RenameAsync("Bobby"));

        Assert.Contains("org/bob", exception.Message);
        await Eventually.TrueAsync(async () => (await grain.GetAsync()).Name == "Robert", "the discarded activation is replaced by one read from storage");
        Assert.Equal("2", await grain.GetEtagAsync());
        Assert.Equal("3", await grain.RenameAsync("Bobby"));
    }

    [Fact]
    public async Task WriteState_WithEvent_BothCommitTogether()
    {
        var grain = _cluster.GrainFactory.GetGrain<IProfileGrain>("org/erin");

        await grain.RenameAsync("Erin");

        var events = await _cluster.Silos[0].Runtime.Storage.ReadEventsAsync(0, 100, CancellationToken.None);
        var changed = Assert.Single(events);
        Assert.Equal("profile.changed", changed.Type);
        Assert.Equal(ProfileGrain.StreamFor("org/erin"), changed.StreamId);
        Assert.Contains("Erin", changed.Data);
    }

    [Fact]
    public async Task WriteState_Conflicting_PublishesNoneOfItsEvents()
    {
        var grain = _cluster.GrainFactory.GetGrain<IProfileGrain>("org/fay");
        await grain.RenameAsync("Fay");
        var storage = _cluster.Silos[0].Runtime.Storage;
        await storage.CommitAsync([StorageWrite.State(new GrainStateKey("profile", "org/fay", "profile"), "{}", 1, [])], CancellationToken.None);

        await Assert.ThrowsAsync<InconsistentStateException>(() => grain.RenameAsync("Fay the stale"));

        var events = await storage.ReadEventsAsync(0, 100, CancellationToken.None);
        Assert.DoesNotContain(events, e => e.Data.Contains("Fay the stale"));
        Assert.Single(events);
    }

    [Fact]
    public async Task Call_RaisesEventWithoutWriting_EventCommitsBeforeCallReturns()
    {
        var grain = _cluster.GrainFactory.GetGrain<IProfileGrain>("org/gus");

        await grain.AnnounceAsync("hello");

        var events = await _cluster.Silos[0].Runtime.Storage.ReadEventsAsync(0, 100, CancellationToken.None);
        Assert.Contains("hello", Assert.Single(events).Data);
    }

    [Fact]
    public async Task Call_ThrowsAfterRaisingEvent_PublishesNothing()
    {
        var grain = _cluster.GrainFactory.GetGrain<IProfileGrain>("org/hal");

        await Assert.ThrowsAsync<InvalidOperationException>(() => grain.AnnounceThenFailAsync("ghost"));
        await grain.AnnounceAsync("real");

        var events = await _cluster.Silos[0].Runtime.Storage.ReadEventsAsync(0, 100, CancellationToken.None);
        Assert.Contains("real", Assert.Single(events).Data);
    }

    [Fact]
    public async Task ClearState_ThenRead_StartsEmptyWithoutRecord()
    {
        var grain = _cluster.GrainFactory.GetGrain<IProfileGrain>("org/ivy");
        await grain.RenameAsync("Ivy");

        await grain.ClearAsync();
        await _cluster.RestartSiloAsync(_cluster.Silos[0]);

        var cleared = _cluster.GrainFactory.GetGrain<IProfileGrain>("org/ivy");
        Assert.Equal(string.Empty, (await cleared.GetAsync()).Name);
        Assert.Null(await cleared.GetEtagAsync());
    }

    [Fact]
    public async Task WriteState_ManyGrainsConcurrently_AllDurableWithCorrectVersions()
    {
        var grains = Enumerable.Range(0, 200).Select(i => _cluster.GrainFactory.GetGrain<IProfileGrain>($"org/many-{i}")).ToList();

        for (var round = 1; round <= 3; round++)
        {
            await Task.WhenAll(grains.Select(grain => grain.RenameAsync($"round {round}")));
        }

        var storage = _cluster.Silos[0].Runtime.Storage;
        for (var i = 0; i < 200; i++)
        {
            var stored = await storage.ReadStateAsync(new GrainStateKey("profile", $"org/many-{i}", "profile"), CancellationToken.None);
            Assert.Equal(3, stored!.Version);
        }

        Assert.Equal(600, await storage.ReadLastSequenceAsync(CancellationToken.None));
    }
}

public sealed class MemoryGrainPersistenceTests : GrainPersistenceTests
{
    private protected override Task<StorageChoice> CreateStorageAsync() => Task.FromResult<StorageChoice>(new StorageChoice.Memory());
}

public sealed class SqliteGrainPersistenceTests : GrainPersistenceTests
{
    private protected override Task<StorageChoice> CreateStorageAsync() => Task.FromResult<StorageChoice>(new StorageChoice.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresGrainPersistenceTests(PostgresServerFixture postgres) : GrainPersistenceTests
{
    private protected override async Task<StorageChoice> CreateStorageAsync() =>
        new StorageChoice.Postgres(await postgres.Server.CreateDatabaseAsync());
}
