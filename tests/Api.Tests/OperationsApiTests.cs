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
