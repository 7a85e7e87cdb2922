using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Projections;

/// <summary>Grains set projections in their calls; <see cref="IProjectionStore"/> (from the host's services) lists them.</summary>
public abstract class ProjectionGrainTests : IAsyncLifetime
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

    private IProjectionStore Store => _cluster.Silos[0].Services.GetRequiredService<IProjectionStore>();

    private IBoardTaskGrain Task(string key) => _cluster.GrainFactory.GetGrain<IBoardTaskGrain>(key);

    [Fact]
    public async Task Project_WithAStateWrite_StoreListsTheRow()
    {
        await Task("acme/t1").SaveAsync("write the report", "ready");

        var row = await Store.GetAsync(BoardTaskGrain.Collection, "acme", "t1");

        Assert.Equal(("ready", "write the report"), (row!.Status, JsonTitle(row)));
        Assert.Equal(["t1"], (await Store.QueryAsync(new ProjectionQuery(BoardTaskGrain.Collection, "acme") { Status = "ready" })).Items.Select(r => r.Id));
    }

    [Fact]
    public async Task Project_CallWritesNoState_CommittedAtTheEndOfTheCall()
    {
        await Task("acme/t2").ProjectOnlyAsync("no state", "draft");

        Assert.Equal("draft", (await Store.GetAsync(BoardTaskGrain.Collection, "acme", "t2"))!.Status);
    }

    [Fact]
    public async Task Project_CallThrowsBeforeWritingState_LeavesNothing()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => Task("acme/t3").ProjectThenFailAsync("doomed"));
        await Task("acme/marker").ProjectOnlyAsync("after", "draft"); // a later commit: the failed call's row would be in by now

        Assert.Null(await Store.GetAsync(BoardTaskGrain.Collection, "acme", "t3"));
        Assert.Equal(["marker"], (await Store.QueryAsync(new ProjectionQuery(BoardTaskGrain.Collection, "acme"))).Items.Select(r => r.Id));
    }

    [Fact]
    public async Task Project_AfterTheStateWriteThenThrows_LeavesOnlyWhatTheWriteCommitted()
    {
        await Task("acme/t4").SaveAsync("saved", "ready");

        await Assert.ThrowsAsync<InvalidOperationException>(() => Task("acme/t4").SaveThenFailAsync("changed"));

        Assert.Equal(("ready", "saved"), ((await Store.GetAsync(BoardTaskGrain.Collection, "acme", "t4"))!.Status, JsonTitle((await Store.GetAsync(BoardTaskGrain.Collection, "acme", "t4"))!)));
    }

    [Fact]
    public async Task RemoveProjection_WithStateClear_RowIsGone()
    {
        await Task("globex/t5").SaveAsync("short-lived", "ready");

        await Task("globex/t5").RemoveAsync();

        Assert.Null(await Store.GetAsync(BoardTaskGrain.Collection, "globex", "t5"));
    }

    private static string JsonTitle(ProjectionRow row) =>
        System.Text.Json.JsonDocument.Parse(row.Document).RootElement.GetProperty("title").GetString()!;
}

public sealed class MemoryProjectionGrainTests : ProjectionGrainTests
{
    private protected override Task<StorageChoice> CreateStorageAsync() => System.Threading.Tasks.Task.FromResult<StorageChoice>(new StorageChoice.Memory());
}

public sealed class SqliteProjectionGrainTests : ProjectionGrainTests
{
    private protected override Task<StorageChoice> CreateStorageAsync() => System.Threading.Tasks.Task.FromResult<StorageChoice>(new StorageChoice.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresProjectionGrainTests(PostgresServerFixture postgres) : ProjectionGrainTests
{
    private protected override async Task<StorageChoice> CreateStorageAsync() => new StorageChoice.Postgres(await postgres.Server.CreateDatabaseAsync());
}
