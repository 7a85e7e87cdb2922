using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Grains.Events;
using Orchestration.Runtime.Streams;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Apis;

/// <summary>A client too slow for its buffer is told to reconnect, and loses nothing when it does.</summary>
public abstract class EventStreamOverflowTests : ApiTestBase
{
    private const int Total = 2_000;

    private protected override ApiFactory CreateFactory(ApiStorage storage) =>
        ApiFactory.Create(storage.Settings, new Dictionary<string, string?> { ["Orchestration:SseBufferSize"] = "8" });

    [Fact]
    public async Task Stream_ClientTooSlow_EndsWithReconnectAndResumesWithoutLoss()
    {
        await using var slow = await SseClient.ConnectAsync(Platform, "/api/v1/events/stream?after=0&types=test.*");
        await PublishAsync();

        var received = new List<long>();
        var reconnects = 0;
        SseClient? current = slow;
        try
        {
            while (received.Count < Total)
            {
                var frame = await current.NextEventAsync();
                if (frame is null || frame.Event == "reconnect")
                {
                    reconnects += frame is null ? 0 : 1;
                    var resumeFrom = frame?.Id ?? received[^1].ToString(CultureInfo.InvariantCulture);
                    if (current != slow)
                    {
                        await current.DisposeAsync();
                    }

                    current = await SseClient.ConnectAsync(Platform, "/api/v1/events/stream?types=test.*", resumeFrom);
                    continue;
                }

                received.Add(long.Parse(frame.Id!, CultureInfo.InvariantCulture));
            }
        }
        finally
        {
            if (current != slow)
            {
                await current.DisposeAsync();
            }
        }

        Assert.True(reconnects >= 1, "the slow client should have been asked to reconnect");
        Assert.Equal(Total, received.Distinct().Count());
        Assert.True(received.Zip(received.Skip(1)).All(pair => pair.First < pair.Second));
    }

    private Task PublishAsync()
    {
        var streams = Factory.Services.GetRequiredService<IStreamProvider>();
        return Parallel.ForEachAsync(Enumerable.Range(0, Total), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            using var payload = JsonDocument.Parse($$"""{"n":{{i}},"pad":"{{new string('p', 400)}}"}""");
            var envelope = new EventEnvelope($"e-{i}", "test.flood", DateTimeOffset.UnixEpoch, "default", new EventActor("system", "test"),
                "tasks/f", null, null, payload.RootElement.Clone());
            await streams.GetStream<EventEnvelope>(new StreamId("events", "default/tasks/f")).OnNextAsync(envelope);
        });
    }
}

public sealed class SqliteEventStreamOverflowTests : EventStreamOverflowTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => Task.FromResult<ApiStorage>(new ApiStorage.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresEventStreamOverflowTests(PostgresServerFixture postgres) : EventStreamOverflowTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => ApiStorage.Postgres.CreateAsync(postgres);
}
