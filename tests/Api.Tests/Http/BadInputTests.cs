using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Http;

/// <summary>Nothing a client sends may produce a 5xx or change stored data when it is refused.</summary>
public abstract class BadInputTests : ApiTestBase
{
    private static readonly string[] s_posts =
    [
        "/api/v1/orgs", "/api/v1/keys", "/api/v1/agents", "/api/v1/tasks", "/api/v1/tasks/claim", "/api/v1/tasks/t-1/claim",
        "/api/v1/tasks/t-1/progress", "/api/v1/tasks/t-1/complete", "/api/v1/tasks/t-1/fail", "/api/v1/tasks/t-1/release",
    ];

    // Each body breaks a rule of every endpoint above (or is refused as a conflict), so none may change anything.

    private static readonly string[] s_bodies =
    [
        "", "{", "[]", "null", "123", "\"text\"", "{\"title\":123}", "{\"id\":[],\"name\":{}}",
        "{\"title\":\"x\",\"priority\":-1}", "{\"title\":\"x\",\"priority\":1e40}", "{\"title\":\"x\",\"maxAttempts\":1000}",
        "{\"title\":\"x\",\"leaseSeconds\":0}", "{\"agentId\":\"a-1\",\"waitSeconds\":31,\"attempt\":-5}",
        "{\"agentId\":\"a-1\",\"percent\":101,\"waitSeconds\":-1,\"attempt\":0}", "{\"agentId\":\"a-1\",\"attempt\":-5,\"waitSeconds\":99}", "{\"id\":\"bad/id\",\"title\":\"x\",\"name\":\"x\"}",
        "{\"id\":\"a\\u0000b\",\"title\":\"x\",\"name\":\"x\"}", "{\"title\":\"\\ud800\",\"name\":\"\\ud800\"}",
        "{\"title\":\"\\u0007bell\",\"name\":\"\\u0007x\"}", "{\"name\":\"k\",\"role\":\"root\",\"id\":\"bad id\"}", "{\"agentId\":null}",
        new string('[', 5000), "{\"title\":\"" + new string('x', 501) + "\"}",
        "{\"title\":\"x\",\"priority\":\"90\"}",
        "{\"agentId\":\"a-1\",\"attempt\":\"1\",\"percent\":\"50\",\"waitSeconds\":\"1\"}",
        "{\"title\":\"x\",\"dependsOn\":[\"t-1\",\"bad id\"]}", "{\"title\":\"x\",\"input\":\"" + new string('y', 300 * 1024) + "\"}",
    ];

    [Fact]
    public async Task EveryPost_BadBodies_Answer4xxAndChangeNothing()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await CreateTaskAsync(Platform, "t-1");
        await ClaimAsync(Platform, "a-1");
        var before = await SnapshotAsync();

        var failures = new List<string>();
        foreach (var path in s_posts)
        {
            foreach (var body in s_bodies)
            {
                var response = await Platform.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
                var status = (int)response.StatusCode;
                if (status is < 400 or >= 500)
                {
                    failures.Add($"{path} {body[..Math.Min(body.Length, 60)]} -> {status} {await response.Content.ReadAsStringAsync()}");
                }
                else if (status >= 400)
                {
                    Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                }
            }
        }

        Assert.Empty(failures);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Theory]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("123")]
    [InlineData("{\"reason\":123}")]
    [InlineData("{\"reason\":\"\\u0007\"}")]
    public async Task CancelTask_BadBody_Answers400AndLeavesTaskAlone(string body)
    {
        await CreateTaskAsync(Platform, "t-1");

        var status = (int)(await Platform.PostAsync("/api/v1/tasks/t-1/cancel", Json(body))).StatusCode;

        Assert.Equal(400, status);
        Assert.Equal("ready", (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/tasks/t-1")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Post_BodyOverLimit_Answers413PayloadTooLarge()
    {
        var big = "{\"title\":\"x\",\"description\":\"" + new string('d', 1024 * 1024 + 10) + "\"}";

        await ProblemAsync(await Platform.PostAsync("/api/v1/tasks", Json(big)), HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
    }

    [Fact]
    public async Task Post_ChunkedBodyOverLimit_Answers413PayloadTooLarge()
    {
        var big = "{\"title\":\"x\",\"description\":\"" + new string('d', 1024 * 1024 + 10) + "\"}";
        using var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/tasks") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        await ProblemAsync(await Platform.SendAsync(request), HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
    }

    [Fact]
    public async Task Get_RequestTargetOverLimit_Answers414UriTooLongAsAProblem()
    {
        var underLimit = await Platform.GetAsync("/api/v1/tasks?ignored=" + new string('q', 8 * 1024 - 40));
        var overLimit = await Platform.GetAsync("/api/v1/tasks?ignored=" + new string('q', 8 * 1024));

        await ReadAsync(underLimit, HttpStatusCode.OK);
        var problem = await ProblemAsync(overLimit, HttpStatusCode.RequestUriTooLong, "uri_too_long");
        Assert.Equal("URI Too Long", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task Get_HeadersOverLimit_Answers431HeadersTooLargeAsAProblem()
    {
        using var underLimit = new HttpRequestMessage(HttpMethod.Get, "/api/v1/tasks");
        underLimit.Headers.Add("X-Note", new string('h', 30 * 1024));
        using var overLimit = new HttpRequestMessage(HttpMethod.Get, "/api/v1/tasks");
        overLimit.Headers.Add("X-Note", new string('h', 33 * 1024));

        await ReadAsync(await Platform.SendAsync(underLimit), HttpStatusCode.OK);
        await ProblemAsync(await Platform.SendAsync(overLimit), HttpStatusCode.RequestHeaderFieldsTooLarge, "headers_too_large");
    }

    [Fact]
    public async Task Get_MoreHeaderLinesThanTheLimit_Answers431HeadersTooLargeAsAProblem()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/tasks");
        for (var i = 0; i < 120; i++)
        {
            request.Headers.Add($"X-Note-{i}", "n");
        }

        await ProblemAsync(await Platform.SendAsync(request), HttpStatusCode.RequestHeaderFieldsTooLarge, "headers_too_large");
    }

    [Fact]
    public async Task Post_HeadOverLimit_IsRefusedBeforeTheBodyAndStoresNothing()
    {
        await CreateTaskAsync(Platform, "t-1");
        var before = await SnapshotAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/tasks?ignored=" + new string('q', 9 * 1024))
        {
            Content = Json("{\"title\":\"x\"}"),
        };

        await ProblemAsync(await Platform.SendAsync(request), HttpStatusCode.RequestUriTooLong, "uri_too_long");
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task CreateTask_MalformedJson_Answers400InvalidJson() =>
        await ProblemAsync(await Platform.PostAsync("/api/v1/tasks", Json("{\"title\": ")), HttpStatusCode.BadRequest, "invalid_json");

    [Theory]
    [InlineData("{\"title\":\"x\",\"priority\":\"90\"}")]
    [InlineData("{\"title\":\"x\",\"maxAttempts\":\"3\"}")]
    [InlineData("{\"title\":\"x\",\"leaseSeconds\":\"60\"}")]
    [InlineData("{\"title\":\"x\",\"priority\":\"NaN\"}")]
    public async Task CreateTask_NumberWrittenAsAString_Answers400InvalidJson(string body) =>
        await ProblemAsync(await Platform.PostAsync("/api/v1/tasks", Json(body)), HttpStatusCode.BadRequest, "invalid_json");

    [Fact]
    public async Task RegisterAgent_NumberWrittenAsAString_Answers400InvalidJson() =>
        await ProblemAsync(await Platform.PostAsync("/api/v1/agents", Json("{\"name\":\"x\",\"capabilities\":[],\"maxConcurrentTasks\":\"2\"}")),
            HttpStatusCode.BadRequest, "invalid_json");

    [Fact]
    public async Task CreateTask_WrongType_Answers400InvalidJson() =>
        await ProblemAsync(await Platform.PostAsync("/api/v1/tasks", Json("{\"title\":\"x\",\"priority\":\"high\"}")), HttpStatusCode.BadRequest, "invalid_json");

    [Fact]
    public async Task CreateTask_InputOver256KiB_Answers400ValidationFailedOnInput()
    {
        var problem = await ProblemAsync(await Platform.PostAsync("/api/v1/tasks", Json("{\"title\":\"x\",\"input\":\"" + new string('y', 300 * 1024) + "\"}")),
            HttpStatusCode.BadRequest, "validation_failed");

        Assert.True(problem.GetProperty("errors").TryGetProperty("input", out _));
    }

    [Fact]
    public async Task EveryGet_BadQueryValues_AnswerAsAClientErrorOrAPageNeverA5xx()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await CreateTaskAsync(Platform, "t-1");
        string[] paths = ["/api/v1/tasks", "/api/v1/agents", "/api/v1/orgs", "/api/v1/keys", "/api/v1/events", "/api/v1/tasks/t-1", "/api/v1/agents/a-1"];
        string[] parameters = ["cursor", "limit", "status", "agentId", "workflowId", "after", "types", "subject", "correlationId"];
        // NUL, invalid UTF-8 (a lone surrogate, an overlong NUL, a stray byte), quotes, huge and negative numbers, length.
        string[] values = ["%00", "a%00b", "%ED%A0%80", "%C0%80", "%FF", "'%22;--", "-1", "99999999999999999999", "1e3", new string('x', 2000)];

        var failures = new List<string>();
        foreach (var path in paths)
        {
            foreach (var parameter in parameters)
            {
                foreach (var value in values)
                {
                    var response = await Platform.GetAsync($"{path}?{parameter}={value}");
                    if ((int)response.StatusCode >= 500)
                    {
                        failures.Add($"{path}?{parameter}={value[..Math.Min(value.Length, 20)]} -> {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                    }
                }
            }
        }

        Assert.Empty(failures);
    }

    [Theory]
    [InlineData("/api/v1/tasks", "a%00b")]
    [InlineData("/api/v1/agents", "a%00b")]
    [InlineData("/api/v1/keys", "a%00b")]
    [InlineData("/api/v1/orgs", "a%00b")]
    [InlineData("/api/v1/orgs", "no-length-prefix")]
    [InlineData("/api/v1/tasks", "long")]
    public async Task List_CursorNotGivenOut_Answers400OnCursor(string path, string cursor)
    {
        // The Api's own check (length) and the store's (what a page can end at) answer alike.
        var sent = cursor == "long" ? new string('x', 1100) : cursor;

        var problem = await ProblemAsync(await Platform.GetAsync($"{path}?cursor={sent}"), HttpStatusCode.BadRequest, "validation_failed");

        Assert.Single(problem.GetProperty("errors").GetProperty("cursor").EnumerateArray());
    }

    [Fact]
    public async Task CreateTask_UnknownDependency_Answers400OnDependsOnAndStoresNothing()
    {
        await CreateTaskAsync(Platform, "known");

        var problem = await ProblemAsync(
            await Platform.PostAsync("/api/v1/tasks", Json("""{"id":"ship","title":"Ship","dependsOn":["known","ghost"]}""")),
            HttpStatusCode.BadRequest, "validation_failed");

        Assert.Contains("'ghost'", problem.GetProperty("errors").GetProperty("dependsOn")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await Platform.GetAsync("/api/v1/tasks/ship")).StatusCode);
    }

    [Fact]
    public async Task GetTask_InvalidId_Answers400() =>
        await ProblemAsync(await Platform.GetAsync("/api/v1/tasks/" + new string('x', 129)), HttpStatusCode.BadRequest, "validation_failed");

    [Theory]
    [InlineData("/api/v1/tasks", "title")]
    [InlineData("/api/v1/agents", "name")]
    public async Task Create_IdOfDotSegment_Answers400AndCreatesNothing(string path, string field)
    {
        // '.' and '..' match the id alphabet, but no URL can address them: /tasks/.. is /api/v1/.
        foreach (var id in new[] { ".", ".." })
        {
            var body = $$"""{"id":"{{id}}","{{field}}":"x"}""";
            await ProblemAsync(await Platform.PostAsync(path, Json(body)), HttpStatusCode.BadRequest, "validation_failed");
        }

        Assert.Equal(0, (await Platform.GetFromJsonAsync<JsonElement>(path)).GetProperty("items").GetArrayLength());
    }

    public static TheoryData<string> UnstorableJson => new()
    {
        "\"\\ud83d\"",
        "{\"a\":[\"\\udc00\"]}",
        "{\"\\ud800\":1}",
        new string('[', RequestValidator.MaxJsonDepth + 1) + new string(']', RequestValidator.MaxJsonDepth + 1),
        "{\"a\":" + new string('[', RequestValidator.MaxJsonDepth) + new string(']', RequestValidator.MaxJsonDepth) + "}",
    };

    // The grains store and report these documents inside views and event envelopes, which lone surrogates cannot be
    // written out in and which nest them a few levels deeper; the API refuses them before anything changes.

    [Theory]
    [MemberData(nameof(UnstorableJson))]
    public async Task CompleteTask_OutputThatCannotBeStored_Answers400AndTheLeaseHolderCanStillComplete(string output)
    {
        await RegisterAgentAsync(Platform, "a-1");
        await CreateTaskAsync(Platform, "t-1");
        await ClaimAsync(Platform, "a-1");

        var problem = await ProblemAsync(await Platform.PostAsync("/api/v1/tasks/t-1/complete", Json($$"""{"agentId":"a-1","attempt":1,"output":{{output}}}""")),
            HttpStatusCode.BadRequest, "validation_failed");

        Assert.True(problem.GetProperty("errors").TryGetProperty("output", out _));
        Assert.Equal("claimed", (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/tasks/t-1")).GetProperty("status").GetString());
        var completed = await ReadAsync(await Platform.PostAsync("/api/v1/tasks/t-1/complete", Json("""{"agentId":"a-1","attempt":1,"output":"ok"}""")), HttpStatusCode.OK);
        Assert.Equal("completed", completed.GetProperty("status").GetString());
    }

    [Theory]
    [MemberData(nameof(UnstorableJson))]
    public async Task CreateTask_InputThatCannotBeStored_Answers400AndTheIdStaysFree(string input)
    {
        var problem = await ProblemAsync(await Platform.PostAsync("/api/v1/tasks", Json($$"""{"id":"t-1","title":"x","input":{{input}}}""")),
            HttpStatusCode.BadRequest, "validation_failed");

        Assert.True(problem.GetProperty("errors").TryGetProperty("input", out _));
        await ProblemAsync(await Platform.GetAsync("/api/v1/tasks/t-1"), HttpStatusCode.NotFound, "not_found");
        await CreateTaskAsync(Platform, "t-1");
    }

    [Theory]
    [MemberData(nameof(UnstorableJson))]
    public async Task RegisterAgent_MetadataThatCannotBeStored_Answers400AndTheAgentKeepsWorking(string metadata)
    {
        await RegisterAgentAsync(Platform, "a-1");

        var problem = await ProblemAsync(await Platform.PostAsync("/api/v1/agents", Json($$"""{"id":"a-1","name":"x","metadata":{{metadata}}}""")),
            HttpStatusCode.BadRequest, "validation_failed");

        Assert.True(problem.GetProperty("errors").TryGetProperty("metadata", out _));
        await ReadAsync(await Platform.PostAsync("/api/v1/agents/a-1/heartbeat", null), HttpStatusCode.OK);
    }

    [Fact]
    public async Task CreateTask_InputNestedToTheLimit_IsStoredAndReported()
    {
        var input = new string('[', RequestValidator.MaxJsonDepth) + new string(']', RequestValidator.MaxJsonDepth);

        await CreateTaskAsync(Platform, "t-1", new { input = JsonDocument.Parse(input).RootElement });

        Assert.Equal(input, (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/tasks/t-1")).GetProperty("input").GetRawText());
        var events = await Platform.GetFromJsonAsync<JsonElement>("/api/v1/events");
        Assert.Contains(events.GetProperty("items").EnumerateArray(), e => e.GetProperty("type").GetString() == "task.created");
    }

    [Theory]
    [InlineData("99")]
    [InlineData("3")]
    public async Task CreateKey_RoleAsANumber_Answers400InvalidJson(string role) =>
        await ProblemAsync(await Platform.PostAsync("/api/v1/keys", Json($$"""{"name":"k","role":{{role}}}""")), HttpStatusCode.BadRequest, "invalid_json");

    private async Task<string> SnapshotAsync()
    {
        var tasks = await Platform.GetFromJsonAsync<JsonElement>("/api/v1/tasks");
        var agents = await Platform.GetFromJsonAsync<JsonElement>("/api/v1/agents");
        var orgs = await Platform.GetFromJsonAsync<JsonElement>("/api/v1/orgs");
        var keys = await Platform.GetFromJsonAsync<JsonElement>("/api/v1/keys");
        var task = await Platform.GetFromJsonAsync<JsonElement>("/api/v1/tasks/t-1");
        return string.Join("\n", tasks.GetProperty("items").GetArrayLength(), agents.GetProperty("items").GetArrayLength(),
            orgs.GetProperty("items").GetArrayLength(), keys.GetProperty("items").GetArrayLength(),
            task.GetProperty("status").GetString(), task.GetProperty("attempt").GetInt32(), task.GetProperty("title").GetString());
    }
}

public sealed class SqliteBadInputTests : BadInputTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => Task.FromResult<ApiStorage>(new ApiStorage.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresBadInputTests(PostgresServerFixture postgres) : BadInputTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => ApiStorage.Postgres.CreateAsync(postgres);
}
