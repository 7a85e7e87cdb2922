using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Http;

/// <summary>
/// A request that took effect but whose process died before its answer was recorded leaves its Idempotency-Key in
/// flight; once the in-flight deadline passes the key is free and the client's retry runs the request again (API.md).
/// That run must find what the first one created, not create a second: a generated id is reserved by the key's record
/// and reused by every run of it. Here the first run's recording is lost, as it is when the Api process dies after the
/// grain call and before the record's write.
/// </summary>
public sealed class IdempotencyRerunTests : IAsyncLifetime
{
    // A short in-flight deadline: the clock moves past it without reaching an agent's heartbeat window (60 s).
    private static readonly TimeSpan s_pastInFlightDeadline = TimeSpan.FromSeconds(40);
    private readonly ManualTimeProvider _time = new();
    private readonly ApiStorage _storage = new ApiStorage.Sqlite();
    private ApiFactory _factory = null!;
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        // The first answer of each record is never recorded, as when the Api process dies right before recording it.
        var lost = new HashSet<string>();
        _factory = ApiFactory.Create(
            _storage.Settings,
            new Dictionary<string, string?> { ["Orchestration:IdempotencyInFlightTimeout"] = "00:00:35" },
            _time,
            IdempotencyRecordFaults.Install((key, record) =>
            {
                lock (lost)
                {
                    return lost.Add(key) ? Task.CompletedTask : record();
                }
            }));
        _client = _factory.CreatePlatformClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
        _storage.Dispose();
    }

    [Fact]
    public async Task CreateTask_RunAgainAfterACrashedRun_AnswersTheTaskThatRunCreated()
    {
        var first = await PostAsync("/api/v1/tasks", new { title = "Build" });
        var whileInFlight = await PostAsync("/api/v1/tasks", new { title = "Build" });
        _time.Advance(s_pastInFlightDeadline);
        var rerun = await PostAsync("/api/v1/tasks", new { title = "Build" });
        var replay = await PostAsync("/api/v1/tasks", new { title = "Build" });

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, whileInFlight.StatusCode);
        Assert.Equal(HttpStatusCode.Created, rerun.StatusCode);
        var id = await IdOf(first);
        var rerunBody = await rerun.Content.ReadAsStringAsync();
        Assert.Equal(id, JsonDocument.Parse(rerunBody).RootElement.GetProperty("id").GetString());
        Assert.Equal($"/api/v1/tasks/{id}", rerun.Headers.Location?.ToString());
        Assert.Equal("true", replay.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(rerunBody, await replay.Content.ReadAsStringAsync());
        Assert.Equal(1, await CountAsync("/api/v1/tasks"));
    }

    [Fact]
    public async Task CreateTask_WithItsOwnId_RunAgainAfterACrashedRun_AnswersTheTaskThatRunCreated()
    {
        var first = await PostAsync("/api/v1/tasks", new { id = "build-42", title = "Build" });
        _time.Advance(s_pastInFlightDeadline);
        var rerun = await PostAsync("/api/v1/tasks", new { id = "build-42", title = "Build" });
        var otherKey = await PostAsync("/api/v1/tasks", new { id = "build-42", title = "Build" }, "k-2");
        var noKey = await _client.PostAsJsonAsync("/api/v1/tasks", new { id = "build-42", title = "Build" });

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, rerun.StatusCode);
        Assert.Equal("build-42", await IdOf(rerun));
        Assert.Equal("/api/v1/tasks/build-42", rerun.Headers.Location?.ToString());
        // Only a run of the request that created it finds it: another request naming the same id conflicts.
        await AssertAlreadyExistsAsync(otherKey);
        await AssertAlreadyExistsAsync(noKey);
        Assert.Equal(1, await CountAsync("/api/v1/tasks"));
    }

    [Fact]
    public async Task RegisterAgent_RunAgainAfterACrashedRun_UpdatesTheAgentThatRunRegistered()
    {
        var first = await PostAsync("/api/v1/agents", new { name = "worker", capabilities = new[] { "build" } });
        _time.Advance(s_pastInFlightDeadline);
        var rerun = await PostAsync("/api/v1/agents", new { name = "worker", capabilities = new[] { "build" } });

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, rerun.StatusCode);
        Assert.Equal(await IdOf(first), await IdOf(rerun));
        Assert.Equal(1, await CountAsync("/api/v1/agents"));
    }

    [Fact]
    public async Task CreateOrg_RunAgainAfterACrashedRun_AnswersThatOrganisationWithAnAdminKeyThatWorks()
    {
        var first = await PostAsync("/api/v1/orgs", new { name = "Acme" });
        _time.Advance(s_pastInFlightDeadline);
        var rerun = await PostAsync("/api/v1/orgs", new { name = "Acme" });

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, rerun.StatusCode);
        var created = await rerun.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(await IdOf(first), created.GetProperty("id").GetString());
        Assert.Equal(1, (await _client.GetFromJsonAsync<JsonElement>("/api/v1/orgs")).GetProperty("items").EnumerateArray()
            .Count(org => org.GetProperty("name").GetString() == "Acme"));
        using var admin = _factory.CreateClient(created.GetProperty("adminKey").GetString()!);
        var keys = await admin.GetFromJsonAsync<JsonElement>("/api/v1/keys");
        Assert.Single(keys.GetProperty("items").EnumerateArray(), key => key.GetProperty("role").GetString() == "admin");
    }

    [Fact]
    public async Task CreateOrg_WithItsOwnId_RunAgainAfterACrashedRun_AnswersItWithTheOnlyAdminKeyThatWorks()
    {
        var first = await PostAsync("/api/v1/orgs", new { id = "acme", name = "Acme" });
        _time.Advance(s_pastInFlightDeadline);
        var rerun = await PostAsync("/api/v1/orgs", new { id = "acme", name = "Acme" });
        var otherKey = await PostAsync("/api/v1/orgs", new { id = "acme", name = "Acme" }, "k-2");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, rerun.StatusCode);
        await AssertAlreadyExistsAsync(otherKey);
        var (unseen, issued) = (await first.Content.ReadFromJsonAsync<JsonElement>(), await rerun.Content.ReadFromJsonAsync<JsonElement>());
        Assert.Equal("acme", issued.GetProperty("id").GetString());
        using var admin = _factory.CreateClient(issued.GetProperty("adminKey").GetString()!);
        using var nobody = _factory.CreateClient(unseen.GetProperty("adminKey").GetString()!);
        var keys = await admin.GetFromJsonAsync<JsonElement>("/api/v1/keys");
        Assert.Single(keys.GetProperty("items").EnumerateArray(), key => key.GetProperty("role").GetString() == "admin");
        Assert.Equal(HttpStatusCode.Unauthorized, (await nobody.GetAsync("/api/v1/keys")).StatusCode);
    }

    [Fact]
    public async Task CreateKey_RunAgainAfterACrashedRun_GivesThatRunsKeyANewSecretNotASecondKey()
    {
        var first = await PostAsync("/api/v1/keys", new { name = "ci", role = "operator" });
        _time.Advance(s_pastInFlightDeadline);
        var rerun = await PostAsync("/api/v1/keys", new { name = "ci", role = "operator" });

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, rerun.StatusCode);
        var (unseen, issued) = (await first.Content.ReadFromJsonAsync<JsonElement>(), await rerun.Content.ReadFromJsonAsync<JsonElement>());
        Assert.Equal(unseen.GetProperty("id").GetString(), issued.GetProperty("id").GetString());
        Assert.Equal($"/api/v1/keys/{issued.GetProperty("id").GetString()}", rerun.Headers.Location?.ToString());
        Assert.Equal(1, (await _client.GetFromJsonAsync<JsonElement>("/api/v1/keys")).GetProperty("items").EnumerateArray()
            .Count(key => key.GetProperty("name").GetString() == "ci"));
        using var holder = _factory.CreateClient(issued.GetProperty("key").GetString()!);
        using var nobody = _factory.CreateClient(unseen.GetProperty("key").GetString()!);
        Assert.Equal(HttpStatusCode.OK, (await holder.GetAsync("/api/v1/tasks")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await nobody.GetAsync("/api/v1/tasks")).StatusCode);
    }

    [Fact]
    public async Task CreateKey_RunAgainAfterItsKeyWasRevoked_LeavesTheKeyRevoked()
    {
        var first = await PostAsync("/api/v1/keys", new { name = "ci", role = "operator" });
        var id = await IdOf(first);
        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteAsync($"/api/v1/keys/{id}")).StatusCode);
        _time.Advance(s_pastInFlightDeadline);
        var rerun = await PostAsync("/api/v1/keys", new { name = "ci", role = "operator" });

        Assert.Equal(HttpStatusCode.Conflict, rerun.StatusCode);
        var key = (await _client.GetFromJsonAsync<JsonElement>("/api/v1/keys")).GetProperty("items").EnumerateArray()
            .Single(k => k.GetProperty("id").GetString() == id);
        Assert.NotEqual(JsonValueKind.Null, key.GetProperty("revokedAt").ValueKind);
    }

    [Fact]
    public async Task ClaimNext_RunAgainAfterACrashedRun_AnswersTheLeaseThatRunTookNotASecondTask()
    {
        await PostWithoutKeyAsync("/api/v1/agents", new { id = "w1", name = "worker", capabilities = Array.Empty<string>() });
        await PostWithoutKeyAsync("/api/v1/tasks", new { id = "t1", title = "One" });
        await PostWithoutKeyAsync("/api/v1/tasks", new { id = "t2", title = "Two" });

        var first = await PostAsync("/api/v1/tasks/claim", new { agentId = "w1" });
        _time.Advance(s_pastInFlightDeadline);
        var rerun = await PostAsync("/api/v1/tasks/claim", new { agentId = "w1" });

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, rerun.StatusCode);
        var (leased, again) = (await first.Content.ReadFromJsonAsync<JsonElement>(), await rerun.Content.ReadFromJsonAsync<JsonElement>());
        Assert.Equal(leased.GetProperty("id").GetString(), again.GetProperty("id").GetString());
        Assert.Equal(leased.GetProperty("attempt").GetInt32(), again.GetProperty("attempt").GetInt32());
        Assert.Equal("ready", (await _client.GetFromJsonAsync<JsonElement>($"/api/v1/tasks/{(leased.GetProperty("id").GetString() == "t1" ? "t2" : "t1")}"))
            .GetProperty("status").GetString());
    }

    [Fact]
    public async Task CreateTask_SameKeyWithAnotherBodyAfterTheDeadline_CreatesItsOwnTask()
    {
        var first = await PostAsync("/api/v1/tasks", new { title = "Build" });
        _time.Advance(s_pastInFlightDeadline);
        var other = await PostAsync("/api/v1/tasks", new { title = "Deploy" });

        Assert.Equal(HttpStatusCode.Created, other.StatusCode);
        Assert.NotEqual(await IdOf(first), await IdOf(other));
        Assert.Equal(2, await CountAsync("/api/v1/tasks"));
    }

    private Task<HttpResponseMessage> PostAsync(string path, object body, string idempotencyKey = "k-1")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        return _client.SendAsync(request);
    }

    private async Task PostWithoutKeyAsync(string path, object body) =>
        Assert.Equal(HttpStatusCode.Created, (await _client.PostAsJsonAsync(path, body)).StatusCode);

    private static async Task AssertAlreadyExistsAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("already_exists", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
    }

    private static async Task<string?> IdOf(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();

    private async Task<int> CountAsync(string path) =>
        (await _client.GetFromJsonAsync<JsonElement>(path)).GetProperty("items").GetArrayLength();
}
