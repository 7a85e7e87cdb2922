using System.Net;
using System.Net.Http.Json;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Apis;

public abstract class AuthApiTests : ApiTestBase
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Basic abc")]
    [InlineData("Bearer wrong-key")]
    [InlineData("Bearer orch_0123456789abcdef0123456789abcdef_secret")]
    public async Task AnyApiPath_MissingMalformedOrUnknownKey_Answers401Unauthorized(string? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/tasks");
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        var response = await Client(null).SendAsync(request);

        await ProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
    }

    [Theory]
    [InlineData("GET", "/api/v1/nope")]
    [InlineData("PUT", "/api/v1/tasks")]
    [InlineData("DELETE", "/api/v1/tasks/t-1/complete")]
    public async Task UnservedApiPath_NoKey_Answers401AndWithAKeyRoutingsAnswer(string method, string path)
    {
        var anonymous = await Client(null).SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        var keyed = await Platform.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        await ProblemAsync(anonymous, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Contains(keyed.StatusCode, new[] { HttpStatusCode.NotFound, HttpStatusCode.MethodNotAllowed });
    }

    [Fact]
    public async Task Health_NoKey_Answers200() =>
        Assert.Equal(HttpStatusCode.OK, (await Client(null).GetAsync("/alive")).StatusCode);

    [Fact]
    public async Task RevokeKey_NextRequest_Answers401()
    {
        var operatorClient = await KeyAsync(Platform, "operator");
        await ReadAsync(await operatorClient.GetAsync("/api/v1/tasks"), HttpStatusCode.OK);
        var keys = await Platform.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/v1/keys");
        var keyId = keys.GetProperty("items").EnumerateArray().Single(key => key.GetProperty("role").GetString() == "operator").GetProperty("id").GetString();

        Assert.Equal(HttpStatusCode.NoContent, (await Platform.DeleteAsync($"/api/v1/keys/{keyId}")).StatusCode);

        await ProblemAsync(await operatorClient.GetAsync("/api/v1/tasks"), HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task RevokeKey_ItsOpenEventStream_Ends()
    {
        var viewer = await KeyAsync(Platform, "viewer");
        await using var stream = await SseClient.ConnectAsync(viewer, "/api/v1/events/stream");
        var keys = await Platform.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/v1/keys");
        var keyId = keys.GetProperty("items").EnumerateArray().Single(key => key.GetProperty("role").GetString() == "viewer").GetProperty("id").GetString();

        Assert.Equal(HttpStatusCode.NoContent, (await Platform.DeleteAsync($"/api/v1/keys/{keyId}")).StatusCode);

        // Within the key check's second (an idle stream would otherwise only send a comment every 15 s).
        Assert.Null(await stream.NextEventAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Viewer_Writes_Answer403Forbidden()
    {
        var viewer = await KeyAsync(Platform, "viewer");

        await ReadAsync(await viewer.GetAsync("/api/v1/tasks"), HttpStatusCode.OK);
        await ProblemAsync(await viewer.PostAsJsonAsync("/api/v1/tasks", new { title = "x" }), HttpStatusCode.Forbidden, "forbidden");
        await ProblemAsync(await viewer.PostAsJsonAsync("/api/v1/agents", new { name = "x" }), HttpStatusCode.Forbidden, "forbidden");
        await ProblemAsync(await viewer.GetAsync("/api/v1/keys"), HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Operator_Keys_Answer403Forbidden()
    {
        var operatorClient = await KeyAsync(Platform, "operator");

        await ReadAsync(await operatorClient.PostAsJsonAsync("/api/v1/tasks", new { title = "x" }), HttpStatusCode.Created);
        await ProblemAsync(await operatorClient.PostAsJsonAsync("/api/v1/keys", new { name = "k", role = "viewer" }), HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Admin_Orgs_Answer403ForbiddenWhilePlatformMayCreate()
    {
        var admin = await NewOrgAsync("acme");

        await ProblemAsync(await admin.PostAsJsonAsync("/api/v1/orgs", new { id = "other", name = "Other" }), HttpStatusCode.Forbidden, "forbidden");
        await ProblemAsync(await admin.GetAsync("/api/v1/orgs"), HttpStatusCode.Forbidden, "forbidden");
        await ReadAsync(await admin.PostAsJsonAsync("/api/v1/keys", new { name = "k", role = "viewer" }), HttpStatusCode.Created);
    }

    [Fact]
    public async Task AgentKey_OwnAgent_MayRegisterClaimAndComplete()
    {
        var agent = await KeyAsync(Platform, "agent", "a-1");
        await CreateTaskAsync(Platform, "t-1");

        var registered = await ReadAsync(await agent.PostAsJsonAsync("/api/v1/agents", new { name = "me", capabilities = Array.Empty<string>() }), HttpStatusCode.Created);
        await ReadAsync(await agent.PostAsync("/api/v1/agents/a-1/heartbeat", null), HttpStatusCode.OK);
        await ClaimAsync(agent, "a-1");
        await ReadAsync(await agent.PostAsJsonAsync("/api/v1/tasks/t-1/complete", new { agentId = "a-1" }), HttpStatusCode.OK);

        Assert.Equal("a-1", registered.GetProperty("id").GetString());
        await Eventually.TrueAsync(async () => (await Platform.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/v1/events?after=0"))
            .GetProperty("items").EnumerateArray().Any(e => e.GetProperty("type").GetString() == "task.claimed"
                && e.GetProperty("actor").GetProperty("type").GetString() == "agent" && e.GetProperty("actor").GetProperty("id").GetString() == "a-1"));
    }

    [Fact]
    public async Task AgentKey_OtherAgentOrOperatorCalls_Answer403Forbidden()
    {
        var agent = await KeyAsync(Platform, "agent", "a-1");
        await RegisterAgentAsync(Platform, "a-2");
        await CreateTaskAsync(Platform, "t-1");

        await ProblemAsync(await agent.PostAsJsonAsync("/api/v1/agents", new { id = "a-2", name = "x" }), HttpStatusCode.Forbidden, "forbidden");
        await ProblemAsync(await agent.PostAsync("/api/v1/agents/a-2/heartbeat", null), HttpStatusCode.Forbidden, "forbidden");
        await ProblemAsync(await agent.PostAsJsonAsync("/api/v1/tasks/claim", new { agentId = "a-2" }), HttpStatusCode.Forbidden, "forbidden");
        await ProblemAsync(await agent.PostAsJsonAsync("/api/v1/tasks/t-1/complete", new { agentId = "a-2" }), HttpStatusCode.Forbidden, "forbidden");
        await ProblemAsync(await agent.PostAsJsonAsync("/api/v1/tasks", new { title = "x" }), HttpStatusCode.Forbidden, "forbidden");
        await ProblemAsync(await agent.PostAsync("/api/v1/agents/a-2/pause", null), HttpStatusCode.Forbidden, "forbidden");
        await ProblemAsync(await agent.GetAsync("/api/v1/keys"), HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task AgentKey_Reads_ItsOrganisationAsAViewerDoes()
    {
        var agent = await KeyAsync(Platform, "agent", "a-1");
        await RegisterAgentAsync(Platform, "a-2");
        await CreateTaskAsync(Platform, "t-1");

        foreach (var path in new[] { "/api/v1/tasks", "/api/v1/tasks/t-1", "/api/v1/agents", "/api/v1/agents/a-2", "/api/v1/events?after=0", "/api/v1/settings" })
        {
            await ReadAsync(await agent.GetAsync(path), HttpStatusCode.OK);
        }
    }
}

public sealed class SqliteAuthApiTests : AuthApiTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => Task.FromResult<ApiStorage>(new ApiStorage.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresAuthApiTests(PostgresServerFixture postgres) : AuthApiTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => ApiStorage.Postgres.CreateAsync(postgres);
}
