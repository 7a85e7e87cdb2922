using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Apis;

public abstract class TasksApiTests : ApiTestBase
{
    // The clock moves only when a test says so (none of these needs it to move): a long-poll's chunks never run out.
    private readonly ManualTimeProvider _time = new();

    private protected override ApiFactory CreateFactory(ApiStorage storage) => ApiFactory.Create(storage.Settings, timeProvider: _time);

    [Fact]
    public async Task CreateTask_Defaults_Answers201WithReadyTask()
    {
        var response = await Platform.PostAsJsonAsync("/api/v1/tasks", new { title = "Build" });

        var task = await ReadAsync(response, HttpStatusCode.Created);
        var id = task.GetProperty("id").GetString()!;
        Assert.Matches("^[0-9a-z]{26}$", id);
        Assert.Equal($"/api/v1/tasks/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal("ready", task.GetProperty("status").GetString());
        Assert.Equal(50, task.GetProperty("priority").GetInt32());
        Assert.Equal(3, task.GetProperty("maxAttempts").GetInt32());
        Assert.Equal(0, task.GetProperty("attempt").GetInt32());
        // API.md's task shape: progress is an object ({percent, message}), empty before the first report.
        Assert.Equal(JsonValueKind.Null, task.GetProperty("progress").GetProperty("percent").ValueKind);
        Assert.Equal(JsonValueKind.Null, task.GetProperty("progress").GetProperty("message").ValueKind);
    }

    [Fact]
    public async Task CreateTask_SameIdTwice_Answers409AlreadyExists()
    {
        await CreateTaskAsync(Platform, "t-1");

        await ProblemAsync(await Platform.PostAsJsonAsync("/api/v1/tasks", new { id = "t-1", title = "again" }), HttpStatusCode.Conflict, "already_exists");
    }

    [Fact]
    public async Task GetTask_Unknown_Answers404NotFound() =>
        await ProblemAsync(await Platform.GetAsync("/api/v1/tasks/nope"), HttpStatusCode.NotFound, "not_found");

    [Fact]
    public async Task ClaimNext_ReadyTask_Answers200WithAttemptOneAndLease()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await CreateTaskAsync(Platform, "t-1");

        var task = await ClaimAsync(Platform, "a-1");

        Assert.Equal("t-1", task.GetProperty("id").GetString());
        Assert.Equal(1, task.GetProperty("attempt").GetInt32());
        Assert.Equal("claimed", task.GetProperty("status").GetString());
        Assert.Equal("a-1", task.GetProperty("lease").GetProperty("agentId").GetString());
    }

    [Fact]
    public async Task ClaimNext_NothingReady_Answers204()
    {
        await RegisterAgentAsync(Platform, "a-1");

        var response = await Platform.PostAsJsonAsync("/api/v1/tasks/claim", new { agentId = "a-1", waitSeconds = 0 });

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task ClaimNext_TaskCreatedDuringWait_Answers200()
    {
        await RegisterAgentAsync(Platform, "a-1");
        // The Api waits in chunks of 10 s: the queue arms a timer 10 s ahead once the claim is waiting for an offer.
        var chunkEnds = _time.GetUtcNow() + TimeSpan.FromSeconds(10);
        var armedBefore = _time.TimersDueAt(chunkEnds);

        var claim = Platform.PostAsJsonAsync("/api/v1/tasks/claim", new { agentId = "a-1", waitSeconds = 20 });
        await Eventually.TrueAsync(() => Task.FromResult(_time.TimersDueAt(chunkEnds) > armedBefore), "the claim waits in the queue");
        await CreateTaskAsync(Platform, "t-late");

        // The clock stands still, so no chunk or wait runs out: only the offer of the new task can answer the claim.
        var answered = await Task.WhenAny(claim, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)) == claim;
        Assert.True(answered, "The waiting claim was not answered within 2 s of the task's creation.");
        var task = await ReadAsync(await claim, HttpStatusCode.OK);
        Assert.Equal("t-late", task.GetProperty("id").GetString());
    }

    [Fact]
    public async Task ClaimNext_ClientGoneWhileWaiting_TaskClaimedMeanwhileIsGivenBack()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await RegisterAgentAsync(Platform, "a-2");
        using var gone = new CancellationTokenSource();
        var chunkEnds = _time.GetUtcNow() + TimeSpan.FromSeconds(10);
        var armedBefore = _time.TimersDueAt(chunkEnds);
        var abandoned = Platform.PostAsJsonAsync("/api/v1/tasks/claim", new { agentId = "a-1", waitSeconds = 20 }, gone.Token);
        // Gone only once the claim waits in the queue (a fixed 1 s sleep was not always enough on a loaded CI machine).
        await Eventually.TrueAsync(() => Task.FromResult(_time.TimersDueAt(chunkEnds) > armedBefore), "the claim waits in the queue");
        await gone.CancelAsync();

        await CreateTaskAsync(Platform, "t-late");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);

        // The abandoned claim takes the task (attempt 1) and gives it back; a-2 asks only then, as its claim could
        // otherwise take the task first (it does not wait behind the woken claim).
        await Eventually.TrueAsync(
            async () => (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/tasks/t-late")) is var late
                && late.GetProperty("attempt").GetInt32() == 1 && late.GetProperty("status").GetString() == "ready",
            "the abandoned claim took the task and gave it back");

        // a-2 gets it now, not after a 300 s lease.
        var task = await ReadAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/claim", new { agentId = "a-2", waitSeconds = 10 }), HttpStatusCode.OK);
        Assert.Equal("t-late", task.GetProperty("id").GetString());
        Assert.Equal(2, task.GetProperty("attempt").GetInt32());
    }

    [Fact]
    public async Task ClaimById_LeaseHeld_Answers409TaskNotClaimable()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await RegisterAgentAsync(Platform, "a-2");
        await CreateTaskAsync(Platform, "t-1");
        await ReadAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/claim", new { agentId = "a-1" }), HttpStatusCode.OK);

        await ProblemAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/claim", new { agentId = "a-2" }), HttpStatusCode.Conflict, "task_not_claimable");
        // The holder itself, at its limit of one task, is refused for the task's sake too; a paused agent as paused.
        await ProblemAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/claim", new { agentId = "a-1" }), HttpStatusCode.Conflict, "task_not_claimable");
        await ReadAsync(await Platform.PostAsync("/api/v1/agents/a-2/pause", null), HttpStatusCode.OK);
        await ProblemAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/claim", new { agentId = "a-2" }), HttpStatusCode.Conflict, "agent_not_available");
    }

    [Fact]
    public async Task Claim_PausedAgent_Answers409AgentNotAvailable()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await ReadAsync(await Platform.PostAsync("/api/v1/agents/a-1/pause", null), HttpStatusCode.OK);
        await CreateTaskAsync(Platform, "t-1");

        await ProblemAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/claim", new { agentId = "a-1" }), HttpStatusCode.Conflict, "agent_not_available");
    }

    [Fact]
    public async Task ClaimNext_AgentAtItsLimit_Answers409AtOnceEvenWhenWaiting_AndClaimsAgainOnceItsTaskEnds()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await CreateTaskAsync(Platform, "t-1");
        await CreateTaskAsync(Platform, "t-2");
        await ClaimAsync(Platform, "a-1");

        // The clock stands still: a claim that waited would not be answered.
        var claim = Platform.PostAsJsonAsync("/api/v1/tasks/claim", new { agentId = "a-1", waitSeconds = 30 });
        Assert.True(await Task.WhenAny(claim, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None)) == claim, "The claim at the agent's limit waited.");
        var refused = await ProblemAsync(await claim, HttpStatusCode.Conflict, "agent_not_available");
        Assert.Contains("holds 1 of its 1", refused.GetProperty("detail").GetString());

        await ReadAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/complete", new { agentId = "a-1", attempt = 1 }), HttpStatusCode.OK);
        Assert.Equal("t-2", (await ClaimAsync(Platform, "a-1")).GetProperty("id").GetString());
    }

    [Fact]
    public async Task LeaseCalls_ProgressThenComplete_Answer200AndTaskCompletes()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await CreateTaskAsync(Platform, "t-1");
        await ClaimAsync(Platform, "a-1");

        var running = await ReadAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/progress", new { agentId = "a-1", attempt = 1, percent = 40, message = "half" }), HttpStatusCode.OK);
        var done = await ReadAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/complete", new { agentId = "a-1", attempt = 1, output = new { ok = true } }), HttpStatusCode.OK);

        Assert.Equal("running", running.GetProperty("status").GetString());
        Assert.Equal(40, running.GetProperty("progress").GetProperty("percent").GetInt32());
        Assert.Equal("completed", done.GetProperty("status").GetString());
        Assert.True(done.GetProperty("output").GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task LeaseCalls_StaleAttempt_Answers409NotLeaseHolder()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await CreateTaskAsync(Platform, "t-1");
        await ClaimAsync(Platform, "a-1");
        await ReadAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/release", new { agentId = "a-1", attempt = 1 }), HttpStatusCode.OK);
        await ClaimAsync(Platform, "a-1");

        await ProblemAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/complete", new { agentId = "a-1", attempt = 1 }), HttpStatusCode.Conflict, "not_lease_holder");
        await ProblemAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/progress", new { agentId = "a-1", attempt = 0 }), HttpStatusCode.Conflict, "not_lease_holder");
        await ProblemAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/progress", new { agentId = "a-1", attempt = -1 }), HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task LeaseCalls_OtherAgent_Answers409NotLeaseHolder()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await RegisterAgentAsync(Platform, "a-2");
        await CreateTaskAsync(Platform, "t-1");
        await ClaimAsync(Platform, "a-1");

        await ProblemAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/progress", new { agentId = "a-2" }), HttpStatusCode.Conflict, "not_lease_holder");
    }

    [Fact]
    public async Task Fail_NotRetryable_DeadLettersTask()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await CreateTaskAsync(Platform, "t-1");
        await ClaimAsync(Platform, "a-1");

        var failed = await ReadAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/fail", new { agentId = "a-1", error = "boom", retryable = false }), HttpStatusCode.OK);

        Assert.Equal("dead_lettered", failed.GetProperty("status").GetString());
        Assert.Equal("boom", failed.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Release_HeldTask_ReturnsToReady()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await CreateTaskAsync(Platform, "t-1");
        await ClaimAsync(Platform, "a-1");

        var released = await ReadAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/release", new { agentId = "a-1" }), HttpStatusCode.OK);

        Assert.Equal("ready", released.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Cancel_CompletedTask_Answers409InvalidTransition()
    {
        await CreateTaskAsync(Platform, "t-1");
        var cancelled = await ReadAsync(await Platform.PostAsJsonAsync("/api/v1/tasks/t-1/cancel", new { reason = "not needed" }), HttpStatusCode.OK);
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());

        var again = await ProblemAsync(await Platform.PostAsync("/api/v1/tasks/t-1/cancel", null), HttpStatusCode.Conflict, "invalid_transition");
        Assert.Contains("cancelled", again.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task ListTasks_Filters_SelectByStatusAgentAndWorkflow()
    {
        await RegisterAgentAsync(Platform, "a-1");
        await CreateTaskAsync(Platform, "t-1", new { workflowId = "wf-1", priority = 90 });
        await CreateTaskAsync(Platform, "t-2", new { workflowId = "wf-2" });
        await CreateTaskAsync(Platform, "t-3");
        await ClaimAsync(Platform, "a-1");

        await Eventually.TrueAsync(async () =>
            (await Platform.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/v1/tasks?agentId=a-1")).GetProperty("items").GetArrayLength() == 1);
        var byWorkflow = await Platform.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/v1/tasks?workflowId=wf-2");
        var ready = await Platform.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/v1/tasks?status=ready");
        var claimed = await Platform.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/v1/tasks?status=claimed");

        Assert.Equal("t-2", Assert.Single(byWorkflow.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        Assert.Equal(["t-2", "t-3"], ready.GetProperty("items").EnumerateArray().Select(task => task.GetProperty("id").GetString()));
        Assert.Equal("t-1", Assert.Single(claimed.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task ListTasks_Paging_FollowsNextCursorToTheEnd()
    {
        for (var i = 0; i < 5; i++)
        {
            await CreateTaskAsync(Platform, $"t-{i}");
        }

        var ids = new List<string>();
        string? cursor = null;
        do
        {
            var page = await Platform.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/v1/tasks?limit=2{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}");
            ids.AddRange(page.GetProperty("items").EnumerateArray().Select(task => task.GetProperty("id").GetString()!));
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(["t-0", "t-1", "t-2", "t-3", "t-4"], ids);
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=501")]
    [InlineData("limit=abc")]
    [InlineData("status=done")]
    [InlineData("agentId=bad%20id")]
    public async Task ListTasks_BadQuery_Answers400ValidationFailed(string query) =>
        await ProblemAsync(await Platform.GetAsync($"/api/v1/tasks?{query}"), HttpStatusCode.BadRequest, "validation_failed");
}

public sealed class SqliteTasksApiTests : TasksApiTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => Task.FromResult<ApiStorage>(new ApiStorage.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresTasksApiTests(PostgresServerFixture postgres) : TasksApiTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => ApiStorage.Postgres.CreateAsync(postgres);
}
