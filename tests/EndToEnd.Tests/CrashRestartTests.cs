using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Orchestration.Testing;

namespace Orchestration.EndToEnd.Tests;

/// <summary>
/// The Api process is killed with SIGKILL while it holds leases, retries and in-flight writes, then started again on
/// the same storage: every acknowledged write is there and every pending lease expiry and retry still happens.
/// Real time here (two processes cannot share a fake clock), so leases, back-offs and heartbeat windows are seconds.
/// </summary>
public abstract class CrashRestartTests : IAsyncLifetime
{
    private IReadOnlyDictionary<string, string> _settings = null!;

    private protected abstract Task<IReadOnlyDictionary<string, string>> CreateSettingsAsync();

    public async Task InitializeAsync() => _settings = new Dictionary<string, string>(await CreateSettingsAsync())
    {
        // The first retry comes 8–16 s after the failure: after the kill (the test checks), before the test gives up.
        ["TaskRetry:BaseDelay"] = "00:00:16",
    };

    public virtual Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task KillDashNine_LeasesRetriesAndAcknowledgedWritesPending_AllSurviveAndFire()
    {
        var acknowledged = new ConcurrentBag<string>();
        await using (var api = await HostProcess.StartApiAsync(_settings))
        {
            var client = api.Client;
            // Agents silent for 20 s go offline: after the kill, and after the 10 s lease.
            var settings = await client.PutAsJsonAsync("/api/v1/settings", new { heartbeatIntervalSeconds = 10, missedHeartbeatsAllowed = 2 });
            Assert.Equal(HttpStatusCode.OK, settings.StatusCode);
            await PostAsync(client, "/api/v1/agents", new { id = "holder", name = "holder", capabilities = Array.Empty<string>() }, HttpStatusCode.Created);
            await PostAsync(client, "/api/v1/agents", new { id = "failer", name = "failer", capabilities = Array.Empty<string>() }, HttpStatusCode.Created);
            await PostAsync(client, "/api/v1/tasks", new { id = "leased", title = "leased", leaseSeconds = 10 }, HttpStatusCode.Created);
            await PostAsync(client, "/api/v1/tasks", new { id = "retrying", title = "retrying", maxAttempts = 3 }, HttpStatusCode.Created);
            var leased = await PostAsync(client, "/api/v1/tasks/leased/claim", new { agentId = "holder" }, HttpStatusCode.OK);
            Assert.Equal(1, (int)leased["attempt"]!);
            await PostAsync(client, "/api/v1/tasks/retrying/claim", new { agentId = "failer" }, HttpStatusCode.OK);
            var failed = await PostAsync(client, "/api/v1/tasks/retrying/fail", new { agentId = "failer", attempt = 1, error = "flaky" }, HttpStatusCode.OK);
            Assert.Equal("failed", (string?)failed["status"]);

            // A burst of creates; the process dies while some are still in flight.
            using var burst = new CancellationTokenSource();
            var creates = Enumerable.Range(0, 400).Select(async i =>
            {
                var id = $"burst-{i:D3}";
                try
                {
                    var response = await client.PostAsJsonAsync("/api/v1/tasks", new { id, title = id }, burst.Token);
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        acknowledged.Add(id);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException or System.Net.Sockets.SocketException)
                {
                    // In flight when the process died (the socket may fail raw, unwrapped): not acknowledged, either outcome is allowed.
                }
            }).ToList();
            await Eventually.TrueAsync(() => Task.FromResult(acknowledged.Count >= 50), "some creates are acknowledged");

            // The lease expiry and the retry are still pending as the process dies, so only their reminders can do them.
            Assert.Equal(("claimed", "failed"), (await StatusAsync(client, "leased"), await StatusAsync(client, "retrying")));
            await api.KillAsync();
            await burst.CancelAsync();
            await Task.WhenAll(creates);
        }

        await using var restarted = await HostProcess.StartApiAsync(_settings);
        var again = restarted.Client;
        foreach (var id in acknowledged)
        {
            var response = await again.GetAsync($"/api/v1/tasks/{id}");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"acknowledged task {id} is missing after the crash ({response.StatusCode})");
        }

        await Eventually.TrueAsync(async () => await StatusAsync(again, "leased") == "ready", "the lease of 'leased' expires after the restart");
        await Eventually.TrueAsync(async () => await StatusAsync(again, "retrying") == "ready", "'retrying' is retried after the restart");
        await Eventually.TrueAsync(async () => await AgentStatusAsync(again, "holder") == "offline" && await AgentStatusAsync(again, "failer") == "offline",
            "both agents go offline 20 s after their last heartbeat");
        var leasedTask = await again.GetFromJsonAsync<JsonObject>("/api/v1/tasks/leased");
        Assert.Equal(1, (int)leasedTask!["attempt"]!);
        var events = await AllEventsAsync(again);
        var expired = events.FindIndex(e => (string?)e["type"] == "task.lease_expired" && (string?)e["subject"] == "tasks/leased");
        var holderOffline = events.FindIndex(e => (string?)e["type"] == "agent.offline" && (string?)e["subject"] == "agents/holder");
        Assert.True(expired >= 0 && expired < holderOffline,
            $"Expected the lease's own reminder to expire it before its holder went offline (which releases it too): task.lease_expired at {expired}, agent.offline at {holderOffline} of the log.");
        Assert.Equal("online", (string?)(await PostAsync(again, "/api/v1/agents/failer/heartbeat", new { }, HttpStatusCode.OK))["status"]);
        var reclaimed = await PostAsync(again, "/api/v1/tasks/leased/claim", new { agentId = "failer" }, HttpStatusCode.OK);
        Assert.Equal(2, (int)reclaimed["attempt"]!);
    }

    private static async Task<List<JsonNode>> AllEventsAsync(HttpClient client)
    {
        var events = new List<JsonNode>();
        for (var after = "0"; after is not null;)
        {
            var page = (await client.GetFromJsonAsync<JsonObject>($"/api/v1/events?after={after}&limit=500"))!;
            events.AddRange(page["items"]!.AsArray().Select(e => e!));
            after = page["next"]?.ToString();
        }

        return events;
    }

    private static async Task<string?> AgentStatusAsync(HttpClient client, string agentId) =>
        (string?)(await client.GetFromJsonAsync<JsonObject>($"/api/v1/agents/{agentId}"))!["status"];

    private static async Task<string?> StatusAsync(HttpClient client, string taskId) =>
        (string?)(await client.GetFromJsonAsync<JsonObject>($"/api/v1/tasks/{taskId}"))!["status"];

    private static async Task<JsonObject> PostAsync(HttpClient client, string path, object body, HttpStatusCode expected)
    {
        var response = await client.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"POST {path} answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }
}

public sealed class SqliteCrashRestartTests : CrashRestartTests
{
    private readonly string _directory = Directory.CreateTempSubdirectory("orch-e2e-").FullName;

    private protected override Task<IReadOnlyDictionary<string, string>> CreateSettingsAsync() =>
        Task.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string>
        {
            ["Storage:Provider"] = "Sqlite",
            ["Storage:SqlitePath"] = Path.Combine(_directory, "orchestration.db"),
            ["Orchestration:BootstrapKeyFile"] = Path.Combine(_directory, "bootstrap-key"),
        });

    public override Task DisposeAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresCrashRestartTests(PostgresServerFixture postgres) : CrashRestartTests
{
    private protected override async Task<IReadOnlyDictionary<string, string>> CreateSettingsAsync() =>
        new Dictionary<string, string>
        {
            ["Storage:Provider"] = "Postgres",
            ["ConnectionStrings:postgres"] = await postgres.Server.CreateDatabaseAsync(),
            ["Orchestration:BootstrapKeyFile"] = Path.Combine(Path.GetTempPath(), $"orch-e2e-{Guid.NewGuid():N}-key"),
        };
}
