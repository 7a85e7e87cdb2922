using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Orchestration.Product.Bench;

/// <summary>
/// The product through its HTTP API (API.md), as deployed agents call it: each agent has its own keep-alive
/// <see cref="HttpClient"/> pair, an operator key to create tasks and an agent key (bound to its id) to claim and
/// complete them, so no single key's rate limit (1,000 requests/s by default) caps the run.
/// </summary>
internal sealed class HttpBoard : ITaskBoard
{
    private readonly (HttpClient Producer, HttpClient Agent)[] _clients;

    private HttpBoard((HttpClient, HttpClient)[] clients) => _clients = clients;

    /// <summary>Registers the agents and issues their keys through <paramref name="platform"/> (the bootstrap key).</summary>
    public static async Task<HttpBoard> CreateAsync(Uri address, HttpClient platform)
    {
        var clients = new (HttpClient, HttpClient)[TaskLifecycle.Agents];
        for (var i = 0; i < clients.Length; i++)
        {
            var agentId = AgentId(i);
            await ReadAsync(await platform.PostAsJsonAsync("/api/v1/agents", new { id = agentId, name = agentId, capabilities = Array.Empty<string>() }));
            clients[i] = (
                Client(address, await IssueKeyAsync(platform, "operator", agentId: null)),
                Client(address, await IssueKeyAsync(platform, "agent", agentId)));
        }

        return new HttpBoard(clients);
    }

    public async Task CreateAsync(int agent, string taskId) =>
        await ReadAsync(await _clients[agent].Producer.PostAsJsonAsync("/api/v1/tasks", new { id = taskId, title = "bench task", leaseSeconds = 60 }));

    public async Task<ClaimedTask?> ClaimAsync(int agent)
    {
        using var response = await _clients[agent].Agent.PostAsJsonAsync("/api/v1/tasks/claim", new { agentId = AgentId(agent) });
        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return null;
        }

        var task = await ReadAsync(response);
        return new ClaimedTask(task.GetProperty("id").GetString()!, task.GetProperty("attempt").GetInt32());
    }

    public async Task CompleteAsync(int agent, ClaimedTask task) =>
        await ReadAsync(await _clients[agent].Agent.PostAsJsonAsync(
            $"/api/v1/tasks/{task.TaskId}/complete", new { agentId = AgentId(agent), attempt = task.Attempt, output = new { ok = true } }));

    public ValueTask DisposeAsync()
    {
        foreach (var (producer, agent) in _clients)
        {
            producer.Dispose();
            agent.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>A keep-alive client sending <paramref name="key"/> as its bearer token.</summary>
    public static HttpClient Client(Uri address, string key)
    {
        var client = new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) }) { BaseAddress = address };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>Issues a key of <paramref name="role"/> through <paramref name="platform"/> (the bootstrap key).</summary>
    public static async Task<string> IssueKeyAsync(HttpClient platform, string role, string? agentId) =>
        (await ReadAsync(await platform.PostAsJsonAsync("/api/v1/keys", new { name = $"bench {role} {agentId}", role, agentId }))).GetProperty("key").GetString()!;

    /// <summary>The JSON body of a successful response; otherwise an exception naming the status, path and body.</summary>
    public static async Task<JsonElement> ReadAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            return response.IsSuccessStatusCode
                ? JsonDocument.Parse(body).RootElement.Clone()
                : throw new HttpRequestException($"{(int)response.StatusCode} {response.RequestMessage?.RequestUri?.PathAndQuery}: {body}");
        }
    }

    private static string AgentId(int agent) => $"agent-{agent}";
}
