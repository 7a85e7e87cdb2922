using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Orchestration.Api.Tests;

public sealed class OperationsApiTests : IAsyncLifetime
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"orch-api-{Guid.NewGuid():N}.db");
    private ApiFactory _factory = null!;
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        _factory = ApiFactory.WithSqlite(_path);
        _client = _factory.CreatePlatformClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in Directory.GetFiles(Path.GetTempPath(), Path.GetFileName(_path) + "*"))
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Health_StorageReachable_Answers200()
    {
        var response = await _client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Alive_ProcessUp_Answers200() =>
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/alive")).StatusCode);

    [Fact]
    public async Task Cluster_EmbeddedMode_ShowsOneActiveSiloOnSqlite()
    {
        var cluster = await _client.GetFromJsonAsync<JsonElement>("/api/v1/cluster");

        Assert.Equal("Sqlite", cluster.GetProperty("storageProvider").GetString());
        var silo = Assert.Single(cluster.GetProperty("silos").EnumerateArray());
        Assert.Equal("active", silo.GetProperty("status").GetString());
        Assert.True(silo.GetProperty("activationCount").GetInt32() >= 1);
        Assert.Equal(1, silo.GetProperty("activationsByGrainType").GetProperty("management").GetInt32());
    }

    [Fact]
    public async Task UnknownRoute_Answers404ProblemWithCodeAndTraceId()
    {
        var response = await _client.GetAsync("/api/v1/nothing-here");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(404, problem.GetProperty("status").GetInt32());
        Assert.Equal("not_found", problem.GetProperty("code").GetString());
        Assert.Contains("/api/v1/nothing-here", problem.GetProperty("detail").GetString());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
    }

    [Fact]
    public async Task Problem_TraceId_IsTheCallersTraceIdAsEventsCarryIt()
    {
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/nothing-here");
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");

        using var create = new HttpRequestMessage(HttpMethod.Post, "/api/v1/tasks") { Content = JsonContent.Create(new { id = "traced", title = "x" }) };
        create.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");

        var problem = await (await _client.SendAsync(request)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.Created, (await _client.SendAsync(create)).StatusCode);

        Assert.Equal(traceId, problem.GetProperty("traceId").GetString());
        var events = await _client.GetFromJsonAsync<JsonElement>("/api/v1/events?after=0");
        var created = events.GetProperty("items").EnumerateArray().Single(e => e.GetProperty("type").GetString() == "task.created");
        Assert.Equal(traceId, created.GetProperty("traceId").GetString());
    }

    [Fact]
    public async Task WrongMethod_Answers405Problem()
    {
        var response = await _client.DeleteAsync("/api/v1/cluster");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("method_not_allowed", problem.GetProperty("code").GetString());
    }

    [Fact]
    public async Task OpenApi_Document_DescribesClusterEndpoint()
    {
        var document = await _client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");

        Assert.True(document.GetProperty("paths").TryGetProperty("/api/v1/cluster", out _));
    }
}
