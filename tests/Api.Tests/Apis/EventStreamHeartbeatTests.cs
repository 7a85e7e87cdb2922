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

    // API.md: "The server sends a `:` comment line at least every 15 s when idle."
    private static readonly TimeSpan s_interval = TimeSpan.FromSeconds(15);

    private protected override ApiFactory CreateFactory(ApiStorage storage) => ApiFactory.Create(storage.Settings, timeProvider: _time);

    [Fact]
    public async Task Stream_Idle15Seconds_SendsCommentLine()
    {
        await using var stream = await ConnectIdleAsync("/api/v1/events/stream");
        var next = stream.NextAsync(TimeSpan.FromSeconds(30));

        _time.Advance(s_interval - TimeSpan.FromSeconds(1));
        await AssertNothingYetAsync(next);
        _time.Advance(TimeSpan.FromSeconds(1));

        await AssertCommentLineAsync(next);
    }

    [Fact]
    public async Task Stream_OnlyOtherEventsFlowing_StillSendsCommentLine()
    {
        await using var stream = await ConnectIdleAsync("/api/v1/events/stream?types=test.wanted");
        var streams = Factory.Services.GetRequiredService<IStreamProvider>();
        var next = stream.NextAsync(TimeSpan.FromSeconds(30));

        // Events the client filters out arrive at 0, 5 and 10 s: they are no activity on its stream.
        for (var i = 0; i < 3; i++)
        {
            using var payload = JsonDocument.Parse("{}");
            var envelope = new EventEnvelope($"e-{i}", "test.unwanted", DateTimeOffset.UnixEpoch, "default", new EventActor("system", "test"),
                "tasks/h", null, null, payload.RootElement.Clone());
            await streams.GetStream<EventEnvelope>(new StreamId(StreamNamespaces.Events, "default/tasks/h")).OnNextAsync(envelope);
            _time.Advance(TimeSpan.FromSeconds(i < 2 ? 5 : 4));
        }

        await AssertNothingYetAsync(next);
        _time.Advance(TimeSpan.FromSeconds(1));

        await AssertCommentLineAsync(next);
    }

    /// <summary>
    /// Connects, reads the opening comment and waits until the writer has armed its heartbeat timer one interval from now
    /// (the clock stands still until the test moves it), so every later second the test moves counts against that interval.
    /// </summary>
    private async Task<SseClient> ConnectIdleAsync(string path)
    {
        var due = _time.GetUtcNow() + s_interval;
        var armedBefore = _time.TimersDueAt(due);
        var stream = await SseClient.ConnectAsync(Platform, path);
        try
        {
            Assert.Equal("stream", (await stream.NextAsync())!.Comment);
            await Eventually.TrueAsync(() => Task.FromResult(_time.TimersDueAt(due) > armedBefore), "the writer arms its heartbeat timer 15 s ahead");
            return stream;
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    private static async Task AssertCommentLineAsync(Task<SseFrame?> next)
    {
        SseFrame? frame;
        try
        {
            frame = await next;
        }
        catch (OperationCanceledException)
        {
            frame = null;
        }

        Assert.True(frame is { Comment: "", Event: null }, $"Expected a ':' comment line after {s_interval.TotalSeconds} s of idleness, got {frame?.ToString() ?? "nothing"}.");
    }

    // The writer's only wake-up is its timer, which the test has not let fire yet; the short real wait only catches a
    // frame written from anywhere else.
    private static async Task AssertNothingYetAsync(Task<SseFrame?> next) =>
        Assert.False(await Task.WhenAny(next, Task.Delay(TimeSpan.FromMilliseconds(300), CancellationToken.None)) == next,
            $"A frame arrived before {s_interval.TotalSeconds} s of idleness: {(next.IsCompletedSuccessfully ? next.Result : null)}");
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
