using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Apis;

public abstract class AgentsApiTests : ApiTestBase
{
    [Fact]
    public async Task Register_NewThenSameId_Answers201Then200()
    {
        var first = await Platform.PostAsJsonAsync("/api/v1/agents", new { id = "a-1", name = "One", capabilities = new[] { "code" } });
        var second = await Platform.PostAsJsonAsync("/api/v1/agents", new { id = "a-1", name = "One again", capabilities = new[] { "code", "review" } });

        var created = await ReadAsync(first, HttpStatusCode.Created);
        var updated = await ReadAsync(second, HttpStatusCode.OK);
        Assert.Equal("/api/v1/agents/a-1", first.Headers.Location?.OriginalString);
        Assert.Equal("online", created.GetProperty("status").GetString());
        Assert.Equal("One again", updated.GetProperty("name").GetString());
        Assert.Equal(2, updated.GetProperty("capabilities").GetArrayLength());
    }

    [Fact]
    public async Task Heartbeat_Registered_Answers200WithNextDue()
    {
        await RegisterAgentAsync(Platform, "a-1");

        var beat = await ReadAsync(await Platform.PostAsync("/api/v1/agents/a-1/heartbeat", null), HttpStatusCode.OK);
        var agent = await ReadAsync(await Platform.GetAsync("/api/v1/agents/a-1"), HttpStatusCode.OK);

        Assert.Equal("online", beat.GetProperty("status").GetString());
        // One interval (default 20 s) after this heartbeat, not the offline deadline (3 intervals): an agent that beats
        // when told is never near going offline.
        var interval = beat.GetProperty("nextHeartbeatDueAt").GetDateTimeOffset() - agent.GetProperty("lastHeartbeatAt").GetDateTimeOffset();
        Assert.Equal(TimeSpan.FromSeconds(20), interval);
    }

    [Fact]
    public async Task Heartbeat_Unknown_Answers404() =>
        await ProblemAsync(await Platform.PostAsync("/api/v1/agents/ghost/heartbeat", null), HttpStatusCode.NotFound, "not_found");

    [Fact]
    public async Task PauseResume_Registered_ChangeStatus()
    {
        await RegisterAgentAsync(Platform, "a-1");

        var paused = await ReadAsync(await Platform.PostAsync("/api/v1/agents/a-1/pause", null), HttpStatusCode.OK);
        var resumed = await ReadAsync(await Platform.PostAsync("/api/v1/agents/a-1/resume", null), HttpStatusCode.OK);

        Assert.Equal("paused", paused.GetProperty("status").GetString());
        Assert.Equal("online", resumed.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Deregister_Registered_Answers204ThenGet404()
    {
        await RegisterAgentAsync(Platform, "a-1");

        Assert.Equal(HttpStatusCode.NoContent, (await Platform.DeleteAsync("/api/v1/agents/a-1")).StatusCode);

        await ProblemAsync(await Platform.GetAsync("/api/v1/agents/a-1"), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Deregister_HoldingALease_ReleasesItCountingTheAttempt()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await CreateTaskAsync(Platform, "t-1", new { maxAttempts = 2 });
        await ClaimAsync(Platform, "a-1");
        // The queue tells the agent of its claim without waiting: let the agent know it holds the task, so the 204 below
        // is the agent's own release and not a late claim notice finding the agent gone.
        await Eventually.TrueAsync(async () =>
            (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/agents/a-1")).GetProperty("activeTaskIds").GetArrayLength() == 1);

        Assert.Equal(HttpStatusCode.NoContent, (await Platform.DeleteAsync("/api/v1/agents/a-1")).StatusCode);

        var task = await Platform.GetFromJsonAsync<JsonElement>("/api/v1/tasks/t-1");
        Assert.Equal(("ready", JsonValueKind.Null, 1), (task.GetProperty("status").GetString(), task.GetProperty("lease").ValueKind, task.GetProperty("attempt").GetInt32()));
        await Eventually.TrueAsync(async () =>
            (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/events?after=0")).GetProperty("items").EnumerateArray()
                .Any(e => e.GetProperty("type").GetString() == "task.lease_expired" && e.GetProperty("subject").GetString() == "tasks/t-1"),
            "task.lease_expired for tasks/t-1 in the log");

        // The released attempt counted: of two attempts one is left, so the next claim's retryable failure dead-letters.
        await RegisterAgentAsync(Platform, "a-2");
        Assert.Equal(2, (await ClaimAsync(Platform, "a-2")).GetProperty("attempt").GetInt32());
        var failed = await ReadAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/fail", new { agentId = "a-2", error = "boom" }), HttpStatusCode.OK);
        Assert.Equal("dead_lettered", failed.GetProperty("status").GetString());
    }

    [Fact]
    public async Task ListAgents_StatusFilter_ListsOnlyThatStatus()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await RegisterAgentAsync(Platform, "a-2");
        await ReadAsync(await Platform.PostAsync("/api/v1/agents/a-2/pause", null), HttpStatusCode.OK);

        await Eventually.TrueAsync(async () =>
        {
            var paused = (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/agents?status=paused")).GetProperty("items");
            return paused.GetArrayLength() == 1 && paused[0].GetProperty("id").GetString() == "a-2";
        });
        var all = await Platform.GetFromJsonAsync<JsonElement>("/api/v1/agents");
        Assert.Equal(2, all.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Register_BrokenRules_ReportsEveryErrorAtOnce()
    {
        var problem = await ProblemAsync(await Platform.PostAsync("/api/v1/agents",
            Json("""{"id":"bad id","capabilities":["ok",""],"maxConcurrentTasks":0}""")), HttpStatusCode.BadRequest, "validation_failed");

        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("id", out _));
        Assert.True(errors.TryGetProperty("name", out _));
        Assert.True(errors.TryGetProperty("capabilities[1]", out _));
        Assert.True(errors.TryGetProperty("maxConcurrentTasks", out _));
    }
}

public sealed class SqliteAgentsApiTests : AgentsApiTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => Task.FromResult<ApiStorage>(new ApiStorage.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresAgentsApiTests(PostgresServerFixture postgres) : AgentsApiTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => ApiStorage.Postgres.CreateAsync(postgres);
}
