using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Grains.Events;
using Orchestration.Runtime.Streams;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Apis;

public abstract class EventsApiTests : ApiTestBase
{
    [Fact]
    public async Task ListEvents_AfterTaskLifecycle_ReturnsEnvelopesInOrder()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await CreateTaskAsync(Platform, "t-1");
        await ClaimAsync(Platform, "a-1");

        JsonElement page = default;
        await Eventually.TrueAsync(async () =>
        {
            page = await Platform.GetFromJsonAsync<JsonElement>("/api/v1/events?after=0");
            return page.GetProperty("items").EnumerateArray().Any(e => e.GetProperty("type").GetString() == "task.claimed");
        });

        var items = page.GetProperty("items").EnumerateArray().ToList();
        var sequences = items.Select(e => e.GetProperty("sequence").GetInt64()).ToList();
        Assert.Equal(sequences.Order(), sequences);
        var claimed = items.First(e => e.GetProperty("type").GetString() == "task.claimed");
        Assert.Equal("tasks/t-1", claimed.GetProperty("subject").GetString());
        Assert.Equal("default", claimed.GetProperty("orgId").GetString());
        Assert.Equal(JsonValueKind.Null, page.GetProperty("next").ValueKind);
    }

    [Fact]
    public async Task ListEvents_TransitionPayload_IsTheTaskAsChanged()
    {
        // The real clock: the claim's and the completion's moments differ.
        await RegisterAgentAsync(Platform, "a-1");
        await CreateTaskAsync(Platform, "t-1");
        await ClaimAsync(Platform, "a-1");
        var completed = await ReadAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/complete", new { agentId = "a-1", attempt = 1 }), HttpStatusCode.OK);

        var payload = await FirstPayloadAsync("task.completed");

        Assert.Equal("completed", payload.GetProperty("status").GetString());
        Assert.Equal(completed.GetProperty("updatedAt").GetDateTimeOffset(), payload.GetProperty("updatedAt").GetDateTimeOffset());
        Assert.Equal(completed.GetProperty("updatedAt").GetDateTimeOffset(), (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/tasks/t-1")).GetProperty("updatedAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task ListEvents_FailedPayload_IsTheTaskAsTheFailureLeftIt()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await CreateTaskAsync(Platform, "t-1");
        await ClaimAsync(Platform, "a-1");
        await ReadAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/fail", new { agentId = "a-1", attempt = 1, error = "compiler crashed" }), HttpStatusCode.OK);

        var payload = await FirstPayloadAsync("task.failed");

        Assert.Equal("failed", payload.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, payload.GetProperty("lease").ValueKind);
        Assert.Equal("compiler crashed", payload.GetProperty("error").GetString());
    }

    [Fact]
    public async Task ListEvents_Limit_PagesWithNext()
    {
        await CreateTaskAsync(Platform, "t-1");
        await CreateTaskAsync(Platform, "t-2");
        await Eventually.TrueAsync(async () => (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/events?after=0")).GetProperty("items").GetArrayLength() >= 2);

        var first = await Platform.GetFromJsonAsync<JsonElement>("/api/v1/events?after=0&limit=1");
        var next = first.GetProperty("next").GetInt64();
        var second = await Platform.GetFromJsonAsync<JsonElement>($"/api/v1/events?after={next}&limit=1");

        Assert.Equal(next, first.GetProperty("items")[0].GetProperty("sequence").GetInt64());
        Assert.True(second.GetProperty("items")[0].GetProperty("sequence").GetInt64() > next);
    }

    [Fact]
    public async Task ListEvents_LastPageExactlyFull_HasNoNext()
    {
        await CreateTaskAsync(Platform, "t-1");
        var all = 0;
        await Eventually.TrueAsync(async () =>
        {
            all = (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/events?after=0")).GetProperty("items").GetArrayLength();
            return all >= 2;
        });

        var last = await Platform.GetFromJsonAsync<JsonElement>($"/api/v1/events?after=0&limit={all}");

        Assert.Equal(all, last.GetProperty("items").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, last.GetProperty("next").ValueKind);
    }

    [Fact]
    public async Task Stream_NoStart_SendsOnlyNewEventsWithIdEqualToSequence()
    {
        await CreateTaskAsync(Platform, "t-old");
        await Eventually.TrueAsync(async () => (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/events?after=0")).GetProperty("items").GetArrayLength() >= 1);
        await using var stream = await SseClient.ConnectAsync(Platform, "/api/v1/events/stream?types=task.*");
        Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);

        await CreateTaskAsync(Platform, "t-new");

        var frame = await stream.NextEventAsync();
        using var data = JsonDocument.Parse(frame!.Data!);
        Assert.Equal("task.created", frame.Event);
        Assert.Equal("tasks/t-new", data.RootElement.GetProperty("subject").GetString());
        Assert.Equal(frame.Id, data.RootElement.GetProperty("sequence").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Stream_Filters_PassOnlyMatchingTypesAndSubjects()
    {
        await using var stream = await SseClient.ConnectAsync(Platform, "/api/v1/events/stream?after=0&types=agent.*,task.cancelled&subject=tasks/t-2");
        await RegisterAgentAsync(Platform, "a-1");
        await CreateTaskAsync(Platform, "t-1");
        await CreateTaskAsync(Platform, "t-2");
        await ReadAsync(await Platform.PostAsync("/api/v1/tasks/t-1/cancel", null), HttpStatusCode.OK);
        await ReadAsync(await Platform.PostAsync("/api/v1/tasks/t-2/cancel", null), HttpStatusCode.OK);

        var frame = await stream.NextEventAsync();

        Assert.Equal("task.cancelled", frame!.Event);
        Assert.Contains("\"subject\":\"tasks/t-2\"", frame.Data);
    }

    [Fact]
    public async Task Stream_ReconnectWithLastEventIdDuringBurst_ReceivesEachEventOnceInOrder()
    {
        const int Total = 10_000;
        var streams = Factory.Services.GetRequiredService<IStreamProvider>();
        var burst = Task.Run(() => Parallel.ForEachAsync(Enumerable.Range(0, Total), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
        {
            using var payload = JsonDocument.Parse($$"""{"n":{{i}}}""");
            var envelope = new EventEnvelope($"e-{i}", "test.burst", DateTimeOffset.UnixEpoch, "default", new EventActor("system", "test"),
                $"tasks/b-{i % 50}", null, null, payload.RootElement.Clone());
            await streams.GetStream<EventEnvelope>(new StreamId(StreamNamespaces.Events, $"default/tasks/b-{i % 50}")).OnNextAsync(envelope);
        }));

        var received = new List<long>();
        await using (var first = await SseClient.ConnectAsync(Platform, "/api/v1/events/stream?after=0&types=test.*"))
        {
            while (received.Count < Total / 3 && await first.NextEventAsync() is { } frame)
            {
                if (frame.Event == "test.burst")
                {
                    received.Add(long.Parse(frame.Id!, System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        }

        while (received.Count < Total)
        {
            await using var again = await SseClient.ConnectAsync(Platform, "/api/v1/events/stream?types=test.*", received[^1].ToString(System.Globalization.CultureInfo.InvariantCulture));
            while (received.Count < Total && await again.NextEventAsync() is { } frame)
            {
                if (frame.Event == "reconnect")
                {
                    break;
                }

                received.Add(long.Parse(frame.Id!, System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        await burst;
        Assert.Equal(Total, received.Count);
        Assert.Equal(Total, received.Distinct().Count());
        Assert.True(received.Zip(received.Skip(1)).All(pair => pair.First < pair.Second), "sequences must strictly increase");
    }

    [Theory]
    [InlineData("/api/v1/events?after=-1")]
    [InlineData("/api/v1/events?after=x")]
    [InlineData("/api/v1/events?limit=1000")]
    [InlineData("/api/v1/events/stream?after=abc")]
    public async Task Events_BadQuery_Answers400(string path) =>
        await ProblemAsync(await Platform.GetAsync(path), HttpStatusCode.BadRequest, "validation_failed");

    /// <summary>The payload of the log's first event of <paramref name="type"/>, once it is there.</summary>
    private async Task<JsonElement> FirstPayloadAsync(string type)
    {
        JsonElement payload = default;
        await Eventually.TrueAsync(async () =>
        {
            var page = await Platform.GetFromJsonAsync<JsonElement>("/api/v1/events?after=0");
            var match = page.GetProperty("items").EnumerateArray().Where(e => e.GetProperty("type").GetString() == type).ToList();
            payload = match.Count > 0 ? match[0].GetProperty("payload") : default;
            return match.Count > 0;
        });
        return payload;
    }
}

public sealed class SqliteEventsApiTests : EventsApiTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => Task.FromResult<ApiStorage>(new ApiStorage.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresEventsApiTests(PostgresServerFixture postgres) : EventsApiTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => ApiStorage.Postgres.CreateAsync(postgres);

}
