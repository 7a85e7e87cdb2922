using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Orchestration.Runtime;
using Orchestration.Runtime.Clustering;
using Orchestration.Testing;

namespace Orchestration.EndToEnd.Tests;

/// <summary>
/// Several silo processes and an Api process (cluster mode) on one throwaway PostgreSQL, driven through the public
/// HTTP API while silos are killed, added, restarted and paused. Real time: leases last 2.5 s.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ClusterTests(PostgresServerFixture postgres) : IAsyncLifetime
{
    private readonly List<HostProcess> _processes = [];
    private string _connectionString = null!;

    public async Task InitializeAsync() => _connectionString = await postgres.Server.CreateDatabaseAsync();

    public async Task DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes))
        {
            await process.DisposeAsync();
        }
    }

    [Fact]
    public async Task KillDashNine_SiloUnderTraffic_SurvivorsServeItsPartitionsAndNoAcknowledgedWriteIsLost()
    {
        var silos = await StartSilosAsync("silo-0", "silo-1", "silo-2");
        var api = await StartApiAsync();
        await ClusterView.WhenServedByAsync(api, "silo-0", "silo-1", "silo-2");
        await using var traffic = Traffic.Start(api.Client, "kill");
        await traffic.WhenAcknowledgedAsync(20);

        var killedAt = Stopwatch.StartNew();
        await silos[1].KillAsync();
        await ClusterView.WhenServedByAsync(api, "silo-0", "silo-2");
        var servedAfter = killedAt.Elapsed;
        var acknowledgedAtFailover = traffic.Acknowledged.Count;
        await traffic.WhenAcknowledgedAsync(acknowledgedAtFailover + 20);
        var failuresBeforeStop = traffic.Failures.Count;
        await traffic.StopAsync();

        // Lease 2.5 s after the last renewal, rounds every 0.5 s, the Api's map poll and this test's own polling: about
        // 3 s, with slack for a loaded CI box, but less than the 5 s after which the dead silo is declared dead.
        Assert.True(servedAfter < TimeSpan.FromSeconds(4.5), $"the survivors served silo-1's partitions after {servedAfter.TotalSeconds:0.0} s");
        await Eventually.TrueAsync(async () => Status(await ClusterView.ReadAsync(api), "silo-1") == "dead", "silo-1 is shown dead");
        foreach (var id in traffic.Acknowledged)
        {
            Assert.Equal(HttpStatusCode.OK, (await api.Client.GetAsync($"/api/v1/tasks/{id}")).StatusCode);
        }

        // The event log across the failover: every acknowledged create has its event exactly once, in sequence order.
        var created = await CreatedEventsAsync(api);
        Assert.All(traffic.Acknowledged, id => Assert.Equal(1, created.Count(subject => subject.EndsWith($"/{id}", StringComparison.Ordinal))));
        Assert.Equal(created.Count, created.Distinct().Count());
        Assert.True(failuresBeforeStop == traffic.Failures.Count, "requests failed after the failover had completed");
    }

    [Fact]
    public async Task KillDashNine_SiloHoldingLeaseReminders_TheyFireOnASurvivor()
    {
        var silos = await StartSilosAsync("silo-0", "silo-1");
        var api = await StartApiAsync();
        await ClusterView.WhenServedByAsync(api, "silo-0", "silo-1");
        var ids = Enumerable.Range(0, 24).Select(i => $"leased-{i:D2}").ToArray();
        foreach (var id in ids)
        {
            await PostAsync(api, "/api/v1/agents", new { id = $"worker-{id}", name = id, capabilities = Array.Empty<string>() });
            await PostAsync(api, "/api/v1/tasks", new { id, title = id, leaseSeconds = 3 });
            await PostAsync(api, $"/api/v1/tasks/{id}/claim", new { agentId = $"worker-{id}" }, HttpStatusCode.OK);
        }

        // About half of the lease-expiry reminders belong to silo-1's partitions; it dies before any is due.
        await silos[1].KillAsync();

        await Eventually.TrueAsync(
            async () =>
            {
                foreach (var id in ids)
                {
                    var task = (await api.Client.GetFromJsonAsync<JsonNode>($"/api/v1/tasks/{id}"))!;
                    if ((string?)task["status"] != "ready")
                    {
                        return false;
                    }
                }

                return true;
            },
            "every expired lease returned its task to ready");
    }

    [Fact]
    public async Task KillDashNine_SiloOfTheQueueMidClaim_TheAgentClaimsAgainOnceTheSurvivorServes()
    {
        var silos = await StartSilosAsync("silo-0", "silo-1");
        var api = await StartApiAsync();
        await ClusterView.WhenServedByAsync(api, "silo-0", "silo-1");
        // The organisation's queue on one silo, the agent on the other, which survives with the slot the claim kept.
        var owners = await OwnersAsync();
        var queueSilo = owners[ClusterPartitions.Of(new GrainId("task-queue", "default"))]!;
        var survivor = queueSilo == "silo-0" ? "silo-1" : "silo-0";
        var agentId = Enumerable.Range(0, 1_000).Select(i => $"worker-{i}")
            .First(id => owners[ClusterPartitions.Of(new GrainId("agent", $"default/{id}"))] == survivor);
        await PostAsync(api, "/api/v1/agents", new { id = agentId, name = agentId, capabilities = Array.Empty<string>() });
        var waiting = api.Client.PostAsJsonAsync("/api/v1/tasks/claim", new { agentId, waitSeconds = 20 });
        await Task.Delay(TimeSpan.FromSeconds(2)); // the long-poll has reached the queue, which kept the agent's one slot

        await silos.Single(silo => silo.Name == queueSilo).KillAsync();
        await ClusterView.WhenServedByAsync(api, survivor);
        await PostAsync(api, "/api/v1/tasks", new { id = "after-failover", title = "after the failover" });

        // The slot was kept for a queue activation that died with its silo: it must not keep the agent from claiming
        // until it lapses (a minute), which is longer than this waits.
        var answers = new List<string>();
        await Eventually.TrueAsync(
            async () =>
            {
                var response = await api.Client.PostAsJsonAsync("/api/v1/tasks/claim", new { agentId });
                answers.Add($"{(int)response.StatusCode}");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return (string?)(await response.Content.ReadFromJsonAsync<JsonNode>())!["id"] == "after-failover";
                }

                await Task.Delay(250);
                return false;
            },
            "the agent claims the task after the failover");
        Assert.DoesNotContain("500", answers);
        await Task.WhenAny(waiting, Task.Delay(TimeSpan.FromSeconds(30)));
    }

    private static async Task PostAsync(HostProcess api, string path, object body, HttpStatusCode expected = HttpStatusCode.Created)
    {
        var response = await api.Client.PostAsJsonAsync(path, body);
        Assert.True(response.StatusCode == expected, $"POST {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task AddSilo_ToTwo_MovesOnlyItsShareOfPartitions()
    {
        await StartSilosAsync("silo-a", "silo-b");
        var api = await StartApiAsync();
        await ClusterView.WhenServedByAsync(api, "silo-a", "silo-b");

        // Live events through the cluster-mode Api: a silo commits, the Api's follower hears it over NOTIFY.
        using var stream = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var response = await api.Client.GetAsync("/api/v1/events/stream?types=task.created", HttpCompletionOption.ResponseHeadersRead, stream.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stream.Token));
        await PostAsync(api, "/api/v1/tasks", new { id = "sse-probe", title = "sse-probe" });
        while (await reader.ReadLineAsync(stream.Token) is { } line && !line.Contains("sse-probe", StringComparison.Ordinal))
        {
        }

        var before = await OwnersAsync();

        await StartSilosAsync("silo-c");
        await ClusterView.WhenServedByAsync(api, "silo-a", "silo-b", "silo-c");

        var after = await OwnersAsync();
        var moved = Enumerable.Range(0, ClusterView.Partitions).Count(partition => before[partition] != after[partition]);
        var third = after.Count(owner => owner == "silo-c");
        Assert.InRange(third, 85, 86);
        Assert.Equal(third, moved);
    }

    [Fact]
    public async Task RollingRestart_EverySiloUnderSteadyTraffic_NoRequestFails()
    {
        var silos = await StartSilosAsync("silo-0", "silo-1", "silo-2");
        var api = await StartApiAsync();
        await ClusterView.WhenServedByAsync(api, "silo-0", "silo-1", "silo-2");
        await using var traffic = Traffic.Start(api.Client, "rolling");
        await traffic.WhenAcknowledgedAsync(20);

        for (var i = 0; i < silos.Count; i++)
        {
            var acknowledged = traffic.Acknowledged.Count;
            await silos[i].StopAsync(TimeSpan.FromSeconds(30));
            silos[i] = (await StartSilosAsync(silos[i].Name))[0];
            await ClusterView.WhenServedByAsync(api, "silo-0", "silo-1", "silo-2");
            await traffic.WhenAcknowledgedAsync(acknowledged + 10);
        }

        await traffic.StopAsync();
        Assert.True(traffic.Failures.IsEmpty, $"failed requests: {string.Join("; ", traffic.Failures.Take(5))}\n{WarningsAndErrors()}");
        foreach (var id in traffic.Acknowledged)
        {
            Assert.Equal(HttpStatusCode.OK, (await api.Client.GetAsync($"/api/v1/tasks/{id}")).StatusCode);
        }
    }

    [Fact]
    public async Task SigStop_PastItsLease_ItsWritesAreFencedAndItRejoinsAsANewGeneration()
    {
        var silos = await StartSilosAsync("silo-0", "silo-1");
        var api = await StartApiAsync();
        await ClusterView.WhenServedByAsync(api, "silo-0", "silo-1");
        var generation = Generation(await ClusterView.ReadAsync(api), "silo-1");
        await using var traffic = Traffic.Start(api.Client, "paused");
        await traffic.WhenAcknowledgedAsync(20);

        silos[1].Pause();
        await ClusterView.WhenServedByAsync(api, "silo-0");
        await Task.Delay(TimeSpan.FromSeconds(6)); // past its heartbeat window too: declared dead
        silos[1].Resume();

        await Eventually.TrueAsync(
            async () => Generation(await ClusterView.ReadAsync(api), "silo-1") > generation && Status(await ClusterView.ReadAsync(api), "silo-1") == "active",
            "silo-1 rejoins as a new generation");
        await ClusterView.WhenServedByAsync(api, "silo-0", "silo-1");
        await traffic.StopAsync();

        // Whatever it had in flight when frozen was refused, by its own lease check or by the epoch in the commit.
        Assert.DoesNotContain("was declared dead; it rejoins", silos[0].Output);
        Assert.Contains("was declared dead; it rejoins as a new generation", silos[1].Output);
        foreach (var id in traffic.Acknowledged)
        {
            Assert.Equal(HttpStatusCode.OK, (await api.Client.GetAsync($"/api/v1/tasks/{id}")).StatusCode);
        }
    }

    [Fact]
    public async Task RevokeKey_ThroughOneApi_TheOtherApiRefusesItOnTheNextRequest()
    {
        await StartSilosAsync("silo-0");
        var first = await StartApiAsync();
        var second = await StartApiAsync();
        await ClusterView.WhenServedByAsync(first, "silo-0");
        await ClusterView.WhenServedByAsync(second, "silo-0");
        var issued = await first.Client.PostAsJsonAsync("/api/v1/keys", new { name = "revoked-across-processes", role = "operator" });
        Assert.Equal(HttpStatusCode.Created, issued.StatusCode);
        var key = (await issued.Content.ReadFromJsonAsync<JsonNode>())!;
        var secret = (string)key["key"]!;

        // Both processes have accepted the key (whatever either keeps of it is warm) before it is revoked.
        Assert.Equal(HttpStatusCode.OK, (await WithKeyAsync(first, secret)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await WithKeyAsync(second, secret)).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await first.Client.DeleteAsync($"/api/v1/keys/{(string)key["id"]!}")).StatusCode);

        // The very next request, on the process that did not revoke it: no retry, no wait.
        Assert.Equal(HttpStatusCode.Unauthorized, (await WithKeyAsync(second, secret)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await WithKeyAsync(first, secret)).StatusCode);
    }

    private static async Task<HttpResponseMessage> WithKeyAsync(HostProcess api, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/tasks");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return await api.Client.SendAsync(request);
    }

    /// <summary>Every process's warnings and errors with the line after each (the message), for a failure's report.</summary>
    private string WarningsAndErrors() => string.Join("\n", _processes.Select(process =>
    {
        var lines = process.Output.Split('\n');
        var reported = lines.Select((line, i) => (line, i))
            .Where(entry => entry.line.Contains("warn:", StringComparison.Ordinal) || entry.line.Contains("fail:", StringComparison.Ordinal))
            .Take(20)
            .Select(entry => $"  {entry.line.Trim()} {(entry.i + 1 < lines.Length ? lines[entry.i + 1].Trim() : "")}");
        return $"{process.Name}:\n{string.Join("\n", reported)}";
    }));

    private async Task<List<HostProcess>> StartSilosAsync(params string[] ids)
    {
        var started = new List<HostProcess>();
        foreach (var id in ids)
        {
            var silo = await HostProcess.StartSiloAsync(id, _connectionString);
            _processes.Add(silo);
            started.Add(silo);
        }

        return started;
    }

    private async Task<HostProcess> StartApiAsync()
    {
        var api = await HostProcess.StartApiAsync(new Dictionary<string, string>
        {
            ["Orchestration:Mode"] = "Cluster",
            ["ConnectionStrings:postgres"] = _connectionString,
        });
        _processes.Add(api);
        return api;
    }

    private static IEnumerable<JsonNode> Silos(JsonNode view, string siloId) =>
        view["silos"]!.AsArray().Select(silo => silo!).Where(silo => (string?)silo["siloId"] == siloId);

    private static string? Status(JsonNode view, string siloId) =>
        Silos(view, siloId).OrderByDescending(silo => (long)silo["generation"]!).Select(silo => (string?)silo["status"]).FirstOrDefault();

    private static long Generation(JsonNode view, string siloId) =>
        Silos(view, siloId).Max(silo => (long)silo["generation"]!);

    /// <summary>The subjects of every <c>task.created</c> event in the log, in sequence order.</summary>
    private static async Task<List<string>> CreatedEventsAsync(HostProcess api)
    {
        var subjects = new List<string>();
        long after = 0;
        var last = 0L;
        while (true)
        {
            var page = (await api.Client.GetFromJsonAsync<JsonNode>($"/api/v1/events?after={after}&limit=500"))!;
            foreach (var item in page["items"]!.AsArray())
            {
                var sequence = (long)item!["sequence"]!;
                Assert.True(sequence > last, "events come in sequence order");
                last = sequence;
                if ((string?)item["type"] == "task.created")
                {
                    subjects.Add((string)item["subject"]!);
                }
            }

            if (page["next"] is not { } next)
            {
                return subjects;
            }

            after = (long)next;
        }
    }

    private async Task<string?[]> OwnersAsync()
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT owner_silo FROM orch_partitions ORDER BY partition", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var owners = new List<string?>();
        while (await reader.ReadAsync())
        {
            owners.Add(reader.IsDBNull(0) ? null : reader.GetString(0));
        }

        return [.. owners];
    }

    /// <summary>Creates tasks one after another and records what was acknowledged and what failed.</summary>
    private sealed class Traffic : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private Task _loop = Task.CompletedTask;

        public ConcurrentQueue<string> Acknowledged { get; } = new();

        public ConcurrentQueue<string> Failures { get; } = new();

        public static Traffic Start(HttpClient client, string prefix)
        {
            var traffic = new Traffic();
            traffic._loop = Task.Run(() => traffic.RunAsync(client, prefix));
            return traffic;
        }

        public Task WhenAcknowledgedAsync(int count) =>
            Eventually.TrueAsync(() => Task.FromResult(Acknowledged.Count >= count), $"{count} creates acknowledged");

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await _loop;
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            _stop.Dispose();
        }

        private async Task RunAsync(HttpClient client, string prefix)
        {
            for (var i = 0; !_stop.IsCancellationRequested; i++)
            {
                var id = $"{prefix}-{i:D5}";
                try
                {
                    var response = await client.PostAsJsonAsync("/api/v1/tasks", new { id, title = id });
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        Acknowledged.Enqueue(id);
                    }
                    else
                    {
                        Failures.Enqueue($"{id}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                    }
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                    Failures.Enqueue($"{id}: {exception.Message}");
                }
            }
        }
    }
}
