using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.Persistence;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Streams;

/// <summary>
/// Implicit subscriptions whose buffer one stream's backlog could fill: a key that keeps failing or does not finish
/// must not hold back the other keys, and its own events still arrive in order, once each. On every provider, since a
/// backlog that is not buffered is read again from the event log.
/// </summary>
public abstract class ImplicitStreamBacklogTests : IAsyncLifetime
{
    private const string Subscriber = "implicit/backlogconsumer/backlog";

    // The smallest buffer the options allow; one key's backlog of more than that would fill it.
    private const int BufferSize = 16;

    private readonly GrainProbe _probe = new();
    private readonly ManualTimeProvider _clock = new();
    private StorageChoice _storage = null!;
    private TestCluster _cluster = null!;

    private protected abstract Task<StorageChoice> CreateStorageAsync();

    public async Task InitializeAsync()
    {
        _storage = await CreateStorageAsync();
        _cluster = await TestClusterFactory.StartAsync(_probe, _storage.Apply, _clock, options =>
        {
            options.SubscriberBufferSize = BufferSize;
            options.StreamDeliveryMaxAttempts = 3;
            options.StreamDeliveryRetryDelay = TimeSpan.FromSeconds(10);
            options.StreamDeliveryMaxRetryDelay = TimeSpan.FromSeconds(20);
        });
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _storage.DisposeAsync();
    }

    private SiloRuntime Runtime => _cluster.Silos[0].Runtime;

    [Fact]
    public async Task Delivery_PoisonKeyWithMoreEventsThanTheBuffer_OtherKeysFlowAndThePoisonEventsAreParkedInOrder()
    {
        const int poisoned = BufferSize + 2;
        for (var i = 1; i <= BufferSize + 1; i++)
        {
            await PublishAsync("poison", $"p{i}");
        }

        await PublishAsync("good", "g1");
        // The clock has not moved: p1 is still waiting for its first retry.
        await _probe.WaitForAsync("backlog:good:g1");
        await PublishAsync("poison", $"p{poisoned}");
        await PublishAsync("good", "g2");
        await _probe.WaitForAsync("backlog:good:g2");

        await Eventually.TrueAsync(() =>
        {
            var done = PoisonAttempts().Count == 3 * poisoned;
            if (!done)
            {
                _clock.Advance(TimeSpan.FromSeconds(10));
            }

            return Task.FromResult(done);
        });
        Assert.Equal(Enumerable.Range(1, poisoned).SelectMany(i => Enumerable.Repeat($"p{i}", 3)), PoisonAttempts());
        Assert.Equal(1, _probe.Count("backlog:good:g1"));
        Assert.Equal(1, _probe.Count("backlog:good:g2"));

        await Eventually.TrueAsync(async () => (await ParkedAsync()).Count == poisoned, "every poison event is parked");
        var parked = await ParkedAsync();
        Assert.All(parked, record => Assert.Equal("poison", record.GetProperty("key").GetString()));
        var sequences = parked.Select(record => record.GetProperty("sequence").GetInt64()).ToList();
        Assert.Equal(sequences.Order(), sequences);
        Assert.Equal(poisoned, sequences.Distinct().Count());
        await ExpectCursorToPassAllAsync();
    }

    [Fact]
    public async Task Delivery_KeyThatDoesNotFinishWithMoreEventsThanTheBuffer_OtherKeysFlowAndItsEventsArriveInOrderOnce()
    {
        const int held = BufferSize + 1;
        for (var i = 1; i <= held; i++)
        {
            await PublishAsync("stuck", $"s{i}");
        }

        // The stuck key's first delivery has begun (its worker may start after another key's): only then is it stuck.
        await _probe.WaitForAsync("backlog:stuck:s1");
        await PublishAsync("good", "g1");
        await _probe.WaitForAsync("backlog:good:g1");
        Assert.Equal(["s1"], StuckAttempts());

        _probe.Record("release:stuck");
        await Eventually.TrueAsync(() => Task.FromResult(StuckAttempts().Count >= held));
        Assert.Equal(Enumerable.Range(1, held).Select(i => $"s{i}"), StuckAttempts());
        await ExpectCursorToPassAllAsync();
        Assert.Equal(held, StuckAttempts().Count);
    }

    private List<string> PoisonAttempts() => Attempts("poison");

    private List<string> StuckAttempts() => Attempts("stuck");

    private List<string> Attempts(string key) =>
        [.. _probe.Events.Where(entry => entry.StartsWith($"backlog:{key}:", StringComparison.Ordinal)).Select(entry => entry[$"backlog:{key}:".Length..])];

    private async Task<List<JsonElement>> ParkedAsync()
    {
        var events = await Runtime.StreamLog.ReadAsync(0, 10_000);
        return [.. events
            .Where(streamEvent => streamEvent.StreamId == new StreamId(ImplicitStreamDelivery.ParkedNamespace, Subscriber))
            .Select(streamEvent => JsonDocument.Parse(streamEvent.Data).RootElement)];
    }

    /// <summary>A last event on a good key; once it is delivered, the stored cursor must reach it.</summary>
    private async Task ExpectCursorToPassAllAsync()
    {
        await PublishAsync("good", "last");
        await _probe.WaitForAsync("backlog:good:last");
        var last = Runtime.StreamLog.LastSequence;
        await Eventually.TrueAsync(
            async () => await Runtime.Storage.ReadCursorAsync(Subscriber, CancellationToken.None) >= last, "the cursor passes every event");
    }

    private Task PublishAsync(string key, string item) =>
        _cluster.Silos[0].Services.GetRequiredService<IStreamProvider>().GetStream<string>(new StreamId("backlog", key)).OnNextAsync(item);
}

public sealed class MemoryImplicitStreamBacklogTests : ImplicitStreamBacklogTests
{
    private protected override Task<StorageChoice> CreateStorageAsync() => Task.FromResult<StorageChoice>(new StorageChoice.Memory());
}

public sealed class SqliteImplicitStreamBacklogTests : ImplicitStreamBacklogTests
{
    private protected override Task<StorageChoice> CreateStorageAsync() => Task.FromResult<StorageChoice>(new StorageChoice.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresImplicitStreamBacklogTests(PostgresServerFixture postgres) : ImplicitStreamBacklogTests
{
    private protected override async Task<StorageChoice> CreateStorageAsync() => new StorageChoice.Postgres(await postgres.Server.CreateDatabaseAsync());
}

/// <summary>A key reading its backlog back from the log when that read fails: it tries again, and nothing is lost.</summary>
public sealed class ImplicitStreamReadBackFailureTests : IAsyncLifetime
{
    private const int BufferSize = 16;

    private readonly GrainProbe _probe = new();
    private readonly ManualTimeProvider _clock = new();
    private readonly GatedStorage _storage = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _storage.Open();
        _cluster = await TestClusterFactory.StartAsync(_probe, builder => builder.UseStorageInstance(_storage), _clock, options =>
        {
            options.SubscriberBufferSize = BufferSize;
            options.StreamDeliveryRetryDelay = TimeSpan.FromSeconds(10);
            options.StreamDeliveryMaxRetryDelay = TimeSpan.FromSeconds(20);
        });
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Replay_ItsReadOfTheLogFails_TheKeysEventsStillArriveInOrderOnce()
    {
        const int held = BufferSize + 1; // more than the key may buffer: the rest is read back from the log
        var streams = _cluster.Silos[0].Services.GetRequiredService<IStreamProvider>();
        for (var i = 1; i <= held; i++)
        {
            await streams.GetStream<string>(new StreamId("backlog", "stuck")).OnNextAsync($"s{i}");
        }

        await _probe.WaitForAsync("backlog:stuck:s1");
        _storage.FailNextEventReadBefore(_cluster.Silos[0].Runtime.StreamLog.LastSequence);
        _probe.Record("release:stuck");

        await Eventually.TrueAsync(() =>
        {
            var done = Attempts().Count >= held;
            if (!done)
            {
                _clock.Advance(TimeSpan.FromSeconds(10)); // the read's retry
            }

            return Task.FromResult(done);
        }, "the key's events arrive");
        Assert.Equal(Enumerable.Range(1, held).Select(i => $"s{i}"), Attempts());
    }

    private List<string> Attempts() =>
        [.. _probe.Events.Where(entry => entry.StartsWith("backlog:stuck:", StringComparison.Ordinal)).Select(entry => entry["backlog:stuck:".Length..])];
}
