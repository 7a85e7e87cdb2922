using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Streams;

/// <summary>Reads and follows of one tenant's events (the tenant of each event's stream key), on every provider.</summary>
public abstract class TenantEventReadTests : IAsyncLifetime
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

    private IStreamLog Log => _cluster.Silos[0].Services.GetRequiredService<IStreamLog>();

    [Fact]
    public async Task ReadAsync_WithTenant_ReturnsOnlyThatTenantsEvents()
    {
        await PublishAsync("acme/a", "1");
        await PublishAsync("globex/a", "2");
        await PublishAsync("acme", "3");
        await PublishAsync("acmeish/a", "4");

        var acme = await Log.ReadAsync(0, 100, "acme");
        var all = await Log.ReadAsync(0, 100);

        Assert.Equal(["1", "3"], acme.Select(Label));
        Assert.Equal(["1", "2", "3", "4"], all.Select(Label));
    }

    [Fact]
    public async Task FollowAsync_WithTenant_YieldsItsHistoryThenItsLiveEventsOnly()
    {
        await PublishAsync("acme/a", "h1");
        await PublishAsync("globex/a", "other-h");
        await PublishAsync("acme/b", "h2");

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<string>();
        var historySeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var following = Task.Run(async () =>
        {
            await foreach (var streamEvent in Log.FollowAsync(0, "board", "acme", stop.Token))
            {
                seen.Add(Label(streamEvent));
                if (seen.Count == 2)
                {
                    historySeen.SetResult();
                }

                if (Label(streamEvent) == "live-end")
                {
                    return;
                }
            }
        });

        await historySeen.Task.WaitAsync(stop.Token);
        await PublishAsync("globex/a", "other-live");
        await PublishAsync("acme/a", "live");
        await PublishAsync("acme/a", "live-end", streamNamespace: "elsewhere"); // another namespace: not followed
        await PublishAsync("acme/c", "live-end");
        await following.WaitAsync(stop.Token);

        Assert.Equal(["h1", "h2", "live", "live-end"], seen);
    }

    private Task PublishAsync(string key, string label, string streamNamespace = "board") =>
        _cluster.Silos[0].Services.GetRequiredService<IStreamProvider>()
            .GetStream<BoardEvent>(new StreamId(streamNamespace, key))
            .OnNextAsync(new BoardEvent(label));

    private static string Label(StreamEvent streamEvent) =>
        System.Text.Json.JsonDocument.Parse(streamEvent.Data).RootElement.GetProperty("label").GetString()!;

    public sealed record BoardEvent(string Label) : IStreamEvent
    {
        public string EventType => "board";
    }
}

public sealed class MemoryTenantEventReadTests : TenantEventReadTests
{
    private protected override Task<StorageChoice> CreateStorageAsync() => Task.FromResult<StorageChoice>(new StorageChoice.Memory());
}

public sealed class SqliteTenantEventReadTests : TenantEventReadTests
{
    private protected override Task<StorageChoice> CreateStorageAsync() => Task.FromResult<StorageChoice>(new StorageChoice.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresTenantEventReadTests(PostgresServerFixture postgres) : TenantEventReadTests
{
    private protected override async Task<StorageChoice> CreateStorageAsync() => new StorageChoice.Postgres(await postgres.Server.CreateDatabaseAsync());
}
