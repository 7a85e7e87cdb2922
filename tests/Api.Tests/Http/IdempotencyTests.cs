using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Http;

public abstract class IdempotencyTests : ApiTestBase
{
    // Short enough that a claim's long-poll (one grain call of up to ClaimWaitChunk, 10 s) outlives it: a call that times
    // out while its grain goes on, as a slow commit would. The clock moves only when a test says so.
    private static readonly TimeSpan s_responseTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_claimWaitChunk = TimeSpan.FromSeconds(10);

    private readonly ManualTimeProvider _time = new();

    private protected override ApiFactory CreateFactory(ApiStorage storage) => ApiFactory.Create(
        storage.Settings,
        new Dictionary<string, string?> { ["Silo:ResponseTimeout"] = s_responseTimeout.ToString() },
        _time);

    [Fact]
    public async Task Post_SameKeySameJson_ReplaysFirstAnswer()
    {
        var first = await SendAsync("/api/v1/tasks", "k-1", """{"title":"Build","priority":7}""");
        var second = await SendAsync("/api/v1/tasks", "k-1", """{ "priority": 7, "title": "Build" }""");

        var created = await ReadAsync(first, HttpStatusCode.Created);
        var replayed = await ReadAsync(second, HttpStatusCode.Created);
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal("true", second.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(created.GetRawText(), replayed.GetRawText());
        Assert.Equal(first.Headers.Location, second.Headers.Location);
        await Eventually.TrueAsync(async () => (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/tasks")).GetProperty("items").GetArrayLength() == 1);
    }

    [Fact]
    public async Task Post_SameKeyOtherBody_Answers422IdempotencyKeyReused()
    {
        await ReadAsync(await SendAsync("/api/v1/tasks", "k-1", """{"title":"Build"}"""), HttpStatusCode.Created);

        await ProblemAsync(await SendAsync("/api/v1/tasks", "k-1", """{"title":"Deploy"}"""), (HttpStatusCode)422, "idempotency_key_reused");
    }

    [Theory]
    [InlineData("7.0", true)]
    [InlineData("70e-1", true)]
    [InlineData("0.7E1", true)]
    [InlineData("8", false)]
    public async Task Post_SameKeyNumberWrittenOtherwise_ComparesByValue(string priority, bool replayed)
    {
        var first = await SendAsync("/api/v1/tasks", "k-1", """{"title":"Build","priority":7,"input":{"n":-0.5}}""");
        var second = await SendAsync("/api/v1/tasks", "k-1", $$$"""{"title":"Build","priority":{{{priority}}},"input":{"n":-5e-1}}""");

        await ReadAsync(first, HttpStatusCode.Created);
        if (replayed)
        {
            await ReadAsync(second, HttpStatusCode.Created);
            Assert.Equal("true", second.Headers.GetValues("Idempotent-Replayed").Single());
        }
        else
        {
            await ProblemAsync(second, (HttpStatusCode)422, "idempotency_key_reused");
        }
    }

    [Fact]
    public async Task Post_SameKeyNumbersEqualOnlyWhenRounded_Answers422()
    {
        // Equal as doubles and as decimals (28 digits), different as JSON values.
        await ReadAsync(await SendAsync("/api/v1/tasks", "k-1", """{"title":"Build","input":{"n":1.000000000000000000000000000001}}"""), HttpStatusCode.Created);

        await ProblemAsync(
            await SendAsync("/api/v1/tasks", "k-1", """{"title":"Build","input":{"n":1.000000000000000000000000000002}}"""),
            (HttpStatusCode)422,
            "idempotency_key_reused");
    }

    [Fact]
    public async Task Post_NumberWithAHugeExponent_IsHashedPromptlyAndReplayed()
    {
        // Exact arithmetic on a 200,000-digit exponent takes seconds (growing with the square of its length).
        var body = $$$"""{"title":"Build","input":{"n":1e{{{new string('7', 200_000)}}}}}""";

        var first = await SendAsync("/api/v1/tasks", "k-1", body).WaitAsync(TimeSpan.FromSeconds(10));
        var second = await SendAsync("/api/v1/tasks", "k-1", body).WaitAsync(TimeSpan.FromSeconds(10));

        await ReadAsync(first, HttpStatusCode.Created);
        await ReadAsync(second, HttpStatusCode.Created);
        Assert.Equal("true", second.Headers.GetValues("Idempotent-Replayed").Single());
    }

    [Fact]
    public async Task Post_SameKeyOtherPathOrKey_IsIndependent()
    {
        var other = await KeyAsync(Platform, "operator");
        await ReadAsync(await SendAsync("/api/v1/tasks", "k-1", """{"title":"Build"}"""), HttpStatusCode.Created);

        await ReadAsync(await SendAsync("/api/v1/agents", "k-1", """{"id":"a-1","name":"A"}"""), HttpStatusCode.Created);
        await ReadAsync(await SendAsync("/api/v1/tasks", "k-1", """{"title":"Deploy"}""", other), HttpStatusCode.Created);
    }

    [Fact]
    public async Task Post_ProblemAnswer_IsReplayedToo()
    {
        var first = await SendAsync("/api/v1/tasks/ghost/cancel", "k-1", "{}");
        var second = await SendAsync("/api/v1/tasks/ghost/cancel", "k-1", "{}");

        await ProblemAsync(first, HttpStatusCode.NotFound, "not_found");
        await ProblemAsync(second, HttpStatusCode.NotFound, "not_found");
        Assert.Equal("true", second.Headers.GetValues("Idempotent-Replayed").Single());
    }

    [Fact]
    public async Task Post_NoContentAnswer_IsReplayedWithoutABody()
    {
        await RegisterAgentAsync(Platform, "a-1");
        const string Body = """{"agentId":"a-1"}""";

        var first = await SendAsync("/api/v1/tasks/claim", "k-1", Body);
        var second = await SendAsync("/api/v1/tasks/claim", "k-1", Body);

        Assert.Equal(HttpStatusCode.NoContent, first.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, second.StatusCode);
        Assert.Equal("true", second.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Empty(await second.Content.ReadAsByteArrayAsync());
        Assert.Empty(Factory.Errors.Messages);
    }

    [Fact]
    public async Task Post_SameKeyWhileInFlight_Answers409IdempotencyKeyInUse()
    {
        await RegisterAgentAsync(Platform, "a-1");
        const string Body = """{"agentId":"a-1","waitSeconds":20}""";
        var one = SendAsync("/api/v1/tasks/claim", "k-1", Body);
        var other = SendAsync("/api/v1/tasks/claim", "k-1", Body);

        // Whichever reached the key second is refused at once; the first waits for a task.
        var done = await Task.WhenAny(one, other);
        await ProblemAsync(await done, HttpStatusCode.Conflict, "idempotency_key_in_use");
        await CreateTaskAsync(Platform, "t-1");

        var claimed = await ReadAsync(await (done == one ? other : one), HttpStatusCode.OK);
        Assert.Equal("t-1", claimed.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Post_CallTimedOutAndWentOn_RetryReplaysThe503AndClaimsNothingMore()
    {
        await ReadAsync(await Platform.PostAsJsonAsync("/api/v1/agents", new { id = "a-1", name = "A", capabilities = Array.Empty<string>(), maxConcurrentTasks = 2 }),
            HttpStatusCode.Created);
        const string Body = """{"agentId":"a-1","waitSeconds":30}""";
        var parkedUntil = _time.GetUtcNow() + s_claimWaitChunk;
        var parkedBefore = _time.TimersDueAt(parkedUntil);

        var first = SendAsync("/api/v1/tasks/claim", "k-1", Body);
        await Eventually.TrueAsync(() => Task.FromResult(_time.TimersDueAt(parkedUntil) > parkedBefore), "the claim waits in the queue");
        _time.Advance(s_responseTimeout + TimeSpan.FromSeconds(1));
        await ProblemAsync(await first, HttpStatusCode.ServiceUnavailable, "unavailable");

        // The timed-out call is still waiting in the queue: it takes the next task offered, after its answer was sent.
        await CreateTaskAsync(Platform, "t-1");
        await Eventually.TrueAsync(async () => (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/tasks/t-1")).GetProperty("status").GetString() == "claimed");
        await CreateTaskAsync(Platform, "t-2");
        var retry = await SendAsync("/api/v1/tasks/claim", "k-1", Body);

        var replayed = await ProblemAsync(retry, HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Contains("same Idempotency-Key", replayed.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("ready", (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/tasks/t-2")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Post_PathInAnotherCase_SameEndpointSharesTheKeyButIdsStayCaseSensitive()
    {
        await CreateTaskAsync(Platform, "T-1");
        await CreateTaskAsync(Platform, "t-1");

        var first = await SendAsync("/api/v1/tasks", "k-1", """{"title":"Build"}""");
        var second = await SendAsync("/API/V1/Tasks", "k-1", """{"title":"Build"}""");
        var upper = await SendAsync("/api/v1/tasks/T-1/cancel", "k-2", "{}");
        var lower = await SendAsync("/api/v1/tasks/t-1/cancel", "k-2", "{}");

        Assert.Equal((await ReadAsync(first, HttpStatusCode.Created)).GetRawText(), (await ReadAsync(second, HttpStatusCode.Created)).GetRawText());
        Assert.Equal("true", second.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal("T-1", (await ReadAsync(upper, HttpStatusCode.OK)).GetProperty("id").GetString());
        Assert.Equal("t-1", (await ReadAsync(lower, HttpStatusCode.OK)).GetProperty("id").GetString());
        Assert.False(lower.Headers.Contains("Idempotent-Replayed"));
    }

    [Fact]
    public async Task Post_BadIdempotencyKey_Answers400() =>
        await ProblemAsync(await SendAsync("/api/v1/tasks", new string('x', 300), """{"title":"x"}"""), HttpStatusCode.BadRequest, "validation_failed");

    private Task<HttpResponseMessage> SendAsync(string path, string key, string json, HttpClient? client = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(json) };
        request.Headers.Add("Idempotency-Key", key);
        return (client ?? Platform).SendAsync(request);
    }
}

public sealed class SqliteIdempotencyTests : IdempotencyTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => Task.FromResult<ApiStorage>(new ApiStorage.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresIdempotencyTests(PostgresServerFixture postgres) : IdempotencyTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => ApiStorage.Postgres.CreateAsync(postgres);
}
