using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Orchestration.Api.Tests;

public sealed class OpenApiTests : ApiTestBase
{
    [Fact]
    public async Task Document_EveryApiRoute_IsDescribedWithItsMethod()
    {
        var document = await Client(null).GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = document.GetProperty("paths");
        var routes = Factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(endpoint => endpoint.RoutePattern.RawText?.StartsWith("/api/v1", StringComparison.Ordinal) == true)
            .SelectMany(endpoint => (endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []).Select(method => (Path: endpoint.RoutePattern.RawText!.TrimEnd('/'), Method: method)))
            .ToList();

        Assert.True(routes.Count >= 25, $"only {routes.Count} routes found");
        var missing = routes.Where(route => !paths.TryGetProperty(route.Path, out var item) || !item.TryGetProperty(route.Method.ToLowerInvariant(), out _)).ToList();
        Assert.Empty(missing);
    }

    [Fact]
    public async Task Document_CreateTask_NamesOperationAndProducesProblem()
    {
        var document = await Client(null).GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var post = document.GetProperty("paths").GetProperty("/api/v1/tasks").GetProperty("post");

        Assert.Equal("CreateTask", post.GetProperty("operationId").GetString());
        Assert.True(post.GetProperty("responses").TryGetProperty("201", out _));
        Assert.True(post.GetProperty("responses").GetProperty("409").GetProperty("content").TryGetProperty("application/problem+json", out _));
        Assert.True(post.GetProperty("responses").GetProperty("422").GetProperty("content").TryGetProperty("application/problem+json", out _));
        Assert.True(post.GetProperty("responses").TryGetProperty("503", out _));
        var get = document.GetProperty("paths").GetProperty("/api/v1/tasks").GetProperty("get");
        Assert.False(get.GetProperty("responses").TryGetProperty("422", out _), "no idempotency key on reads");
    }

    private protected override Task<ApiStorage> CreateStorageAsync() => Task.FromResult<ApiStorage>(new ApiStorage.Sqlite());
}
