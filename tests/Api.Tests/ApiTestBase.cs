using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Orchestration.Api.Tests;

/// <summary>
/// Base of the Api test classes: one host per test on the storage a derived class chooses (each class runs on SQLite
/// and on PostgreSQL), and helpers that speak HTTP as a client would.
/// </summary>
public abstract class ApiTestBase : IAsyncLifetime
{
    private readonly List<HttpClient> _clients = [];

    protected ApiStorage Storage { get; private set; } = null!;

    protected ApiFactory Factory { get; private set; } = null!;

    /// <summary>A client with the platform key (also the admin of organisation <c>default</c>).</summary>
    protected HttpClient Platform { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Storage = await CreateStorageAsync();
        Factory = CreateFactory(Storage);
        Platform = Client(ApiFactory.PlatformKey);
    }

    public async Task DisposeAsync()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        await Factory.DisposeAsync();
        Storage.Dispose();
    }

    private protected abstract Task<ApiStorage> CreateStorageAsync();

    /// <summary>The host of each test; override to add settings.</summary>
    private protected virtual ApiFactory CreateFactory(ApiStorage storage) => ApiFactory.Create(storage.Settings);

    /// <summary>A client sending <paramref name="key"/> as its bearer token (none when <c>null</c>).</summary>
    protected HttpClient Client(string? key)
    {
        var client = key is null ? Factory.CreateClient() : Factory.CreateClient(key);
        _clients.Add(client);
        return client;
    }

    /// <summary>Creates an organisation and returns a client with its admin key.</summary>
    protected async Task<HttpClient> NewOrgAsync(string id)
    {
        var created = await ReadAsync(await Platform.PostAsJsonAsync("/api/v1/orgs", new { id, name = $"Org {id}" }), HttpStatusCode.Created);
        return Client(created.GetProperty("adminKey").GetString());
    }

    /// <summary>Issues a key with <paramref name="role"/> through <paramref name="admin"/> and returns a client using it.</summary>
    protected async Task<HttpClient> KeyAsync(HttpClient admin, string role, string? agentId = null)
    {
        var created = await ReadAsync(await admin.PostAsJsonAsync("/api/v1/keys", new { name = $"{role} key", role, agentId }), HttpStatusCode.Created);
        return Client(created.GetProperty("key").GetString());
    }

    /// <summary>Registers an agent (201).</summary>
    protected static async Task<JsonElement> RegisterAgentAsync(HttpClient client, string id, params string[] capabilities) =>
        await ReadAsync(await client.PostAsJsonAsync("/api/v1/agents", new { id, name = $"Agent {id}", capabilities }), HttpStatusCode.Created);

    /// <summary>Creates a task (201).</summary>
    protected static async Task<JsonElement> CreateTaskAsync(HttpClient client, string id, object? extra = null)
    {
        var body = JsonSerializer.SerializeToNode(extra ?? new { })!.AsObject();
        body["id"] = id;
        body.TryAdd("title", $"Task {id}");
        return await ReadAsync(await client.PostAsync("/api/v1/tasks", Json(body.ToJsonString())), HttpStatusCode.Created);
    }

    /// <summary>Claims the next task for <paramref name="agentId"/> (200).</summary>
    protected static async Task<JsonElement> ClaimAsync(HttpClient client, string agentId) =>
        await ReadAsync(await client.PostAsJsonAsync("/api/v1/tasks/claim", new { agentId }), HttpStatusCode.OK);

    /// <summary>A JSON body from raw text.</summary>
    protected static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>Asserts the status and returns the JSON body.</summary>
    protected static async Task<JsonElement> ReadAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"Expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts a problem response with <paramref name="status"/> and <paramref name="code"/> and returns it.</summary>
    protected static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var problem = await ReadAsync(response, status);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
        return problem;
    }
}
