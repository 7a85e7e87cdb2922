using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Apis;

/// <summary>Two organisations side by side: nothing one does is visible to, or changeable by, the other.</summary>
public abstract class TenancyApiTests : ApiTestBase
{
    [Fact]
    public async Task EveryEndpoint_OtherOrganisationsObjects_Answer404OrStayInvisible()
    {
        var acme = await NewOrgAsync("acme");
        var globex = await NewOrgAsync("globex");
        await RegisterAgentAsync(acme, "a-1");
        await CreateTaskAsync(acme, "t-1");
        await CreateTaskAsync(acme, "t-2");
        await ClaimAsync(acme, "a-1");
        var acmeKey = await ReadAsync(await acme.PostAsJsonAsync("/api/v1/keys", new { name = "k", role = "viewer" }), HttpStatusCode.Created);
        await using var globexStream = await SseClient.ConnectAsync(globex, "/api/v1/events/stream?after=0");

        await ProblemAsync(await globex.GetAsync("/api/v1/tasks/t-1"), HttpStatusCode.NotFound, "not_found");
        await ProblemAsync(await globex.GetAsync("/api/v1/agents/a-1"), HttpStatusCode.NotFound, "not_found");
        await ProblemAsync(await globex.PostAsync("/api/v1/agents/a-1/heartbeat", null), HttpStatusCode.NotFound, "not_found");
        await ProblemAsync(await globex.PostAsync("/api/v1/agents/a-1/pause", null), HttpStatusCode.NotFound, "not_found");
        await ProblemAsync(await globex.PostAsync("/api/v1/agents/a-1/resume", null), HttpStatusCode.NotFound, "not_found");
        await ProblemAsync(await globex.DeleteAsync("/api/v1/agents/a-1"), HttpStatusCode.NotFound, "not_found");
        await ProblemAsync(await globex.PostAsync("/api/v1/tasks/t-2/cancel", null), HttpStatusCode.NotFound, "not_found");
        await ProblemAsync(await globex.PostAsJsonAsync("/api/v1/tasks/t-1/progress", new { agentId = "a-1" }), HttpStatusCode.NotFound, "not_found");
        await ProblemAsync(await globex.PostAsJsonAsync("/api/v1/tasks/t-1/complete", new { agentId = "a-1" }), HttpStatusCode.NotFound, "not_found");
        await ProblemAsync(await globex.PostAsJsonAsync("/api/v1/tasks/t-1/fail", new { agentId = "a-1", error = "x" }), HttpStatusCode.NotFound, "not_found");
        await ProblemAsync(await globex.PostAsJsonAsync("/api/v1/tasks/t-1/release", new { agentId = "a-1" }), HttpStatusCode.NotFound, "not_found");
        await ProblemAsync(await globex.DeleteAsync($"/api/v1/keys/{acmeKey.GetProperty("id").GetString()}"), HttpStatusCode.NotFound, "not_found");
        var claimAsOther = await globex.PostAsJsonAsync("/api/v1/tasks/claim", new { agentId = "a-1" });
        Assert.True(claimAsOther.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.NoContent or HttpStatusCode.Conflict, $"{claimAsOther.StatusCode}");
        var claimByIdAsOther = await globex.PostAsJsonAsync("/api/v1/tasks/t-2/claim", new { agentId = "a-1" });
        Assert.True(claimByIdAsOther.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict, $"{claimByIdAsOther.StatusCode}");

        await RegisterAgentAsync(globex, "g-1");
        Assert.Equal(HttpStatusCode.NoContent, (await globex.PostAsJsonAsync("/api/v1/tasks/claim", new { agentId = "g-1" })).StatusCode);
        var sameId = await CreateTaskAsync(globex, "t-1");
        Assert.Equal("ready", sameId.GetProperty("status").GetString());

        await Eventually.TrueAsync(async () => (await Items(globex, "/api/v1/tasks")).Count == 1);
        Assert.Equal(["g-1"], (await Items(globex, "/api/v1/agents")).Select(agent => agent.GetProperty("id").GetString()));
        Assert.DoesNotContain(await Items(globex, "/api/v1/keys"), key => key.GetProperty("orgId").GetString() != "globex");
        Assert.DoesNotContain(await Items(globex, "/api/v1/events?after=0"), e => e.GetProperty("orgId").GetString() != "globex");
        var streamed = await globexStream.NextEventAsync();
        Assert.Contains("\"orgId\":\"globex\"", streamed!.Data);

        var acmeTask = await ReadAsync(await acme.GetAsync("/api/v1/tasks/t-1"), HttpStatusCode.OK);
        Assert.Equal("claimed", acmeTask.GetProperty("status").GetString());
        Assert.Equal(2, (await Items(acme, "/api/v1/tasks")).Count);
    }

    private static async Task<List<JsonElement>> Items(HttpClient client, string path) =>
        [.. (await client.GetFromJsonAsync<JsonElement>(path)).GetProperty("items").EnumerateArray()];
}

public sealed class SqliteTenancyApiTests : TenancyApiTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => Task.FromResult<ApiStorage>(new ApiStorage.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresTenancyApiTests(PostgresServerFixture postgres) : TenancyApiTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => ApiStorage.Postgres.CreateAsync(postgres);
}
