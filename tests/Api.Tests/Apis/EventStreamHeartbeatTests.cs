using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Grains.Events;
using Orchestration.Runtime.Streams;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Apis;

/// <summary>The event stream's idle heartbeat, on a clock the test moves.</summary>
public abstract class EventStreamHeartbeatTests : ApiTestBase
{
    private readonly ManualTimeProvider _time = new();

    private protected override ApiFactory CreateFactory(ApiStorage storage) => ApiFactory.Create(storage.Settings, timeProvider: _time);

    [Fact]
    public async Task Stream_Idle15Seconds_SendsCommentLine()
    {
        await using var stream = await SseClient.ConnectAsync(Platform, "/api/v1/events/stream");
        var opening = await stream.NextAsync();

        var next = stream.NextAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!next.IsCompleted && !timeout.IsCancellationRequested)
        {
            // The writer arms its idle timer when it starts waiting; move the clock until that timer has fired.
            _time.Advance(TimeSpan.FromSeconds(15));
            await Task.WhenAny(next, Task.Delay(10, CancellationToken.None));
        }

        var heartbeat = await next;
        Assert.Equal("stream", opening!.Comment);
        Assert.NotNull(heartbeat!.Comment);
        Assert.Null(heartbeat.Event);
    }

    [Fact]
    public async Task Stream_OnlyOtherEventsFlowing_StillSendsCommentLine()
    {
        await using var stream = await SseClient.ConnectAsync(Platform, "/api/v1/events/stream?types=test.wanted");
        await stream.NextAsync();
        var streams = Factory.Services.GetRequiredService<IStreamProvider>();

        // Events the client filters out keep arriving every 5 s of the clock: they are no activity on its stream.
        var next = stream.NextAsync();
        for (var i = 0; i < 40 && !next.IsCompleted; i++)
        {
            using var payload = JsonDocument.Parse("{}");
            var envelope = new EventEnvelope($"e-{i}", "test.unwanted", DateTimeOffset.UnixEpoch, "default", new EventActor("system", "test"),
                "tasks/h", null, null, payload.RootElement.Clone());
            await streams.GetStream<EventEnvelope>(new StreamId(StreamNamespaces.Events, "default/tasks/h")).OnNextAsync(envelope);
            _time.Advance(TimeSpan.FromSeconds(5));
            await Task.WhenAny(next, Task.Delay(10, CancellationToken.None));
        }

        var heartbeat = await next.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.NotNull(heartbeat!.Comment);
        Assert.Null(heartbeat.Event);
    }
}

public sealed class SqliteEventStreamHeartbeatTests : EventStreamHeartbeatTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => Task.FromResult<ApiStorage>(new ApiStorage.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresEventStreamHeartbeatTests(PostgresServerFixture postgres) : EventStreamHeartbeatTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => ApiStorage.Postgres.CreateAsync(postgres);
}
