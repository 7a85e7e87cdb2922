using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Orchestration.ServiceDefaults.Tests;

/// <summary>Outgoing HTTP through AddServiceDefaults' clients, against a real Kestrel server that fails on purpose.</summary>
public sealed class ResilienceHandlerTests : IAsyncLifetime
{
    private int _calls;
    private WebApplication _server = null!;
    private IHost _client = null!;

    public async Task InitializeAsync()
    {
        var serverBuilder = WebApplication.CreateSlimBuilder();
        serverBuilder.WebHost.UseUrls("http://127.0.0.1:0");
        _server = serverBuilder.Build();
        _server.MapGet("/flaky/{failures:int}", (int failures) =>
            Interlocked.Increment(ref _calls) <= failures ? Results.StatusCode(503) : Results.Text("ok"));
        _server.MapPost("/flaky/{failures:int}", (int failures) =>
            Interlocked.Increment(ref _calls) <= failures ? Results.StatusCode(503) : Results.Text("ok"));
        _server.MapGet("/missing", () =>
        {
            Interlocked.Increment(ref _calls);
            return Results.NotFound();
        });
        await _server.StartAsync();

        var clientBuilder = Host.CreateApplicationBuilder();
        clientBuilder.AddServiceDefaults();
        _client = clientBuilder.Build();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Get_TwoTransientFailures_RetriedUntilItSucceeds()
    {
        var response = await CreateClient().GetAsync("/flaky/2");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        Assert.Equal(3, _calls);
    }

    [Fact]
    public async Task Get_AlwaysFailing_GivesUpAfterThreeRetriesWithTheLastAnswer()
    {
        var response = await CreateClient().GetAsync("/flaky/100");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(4, _calls);
    }

    [Fact]
    public async Task Post_TransientFailure_NotRetried()
    {
        var response = await CreateClient().PostAsync("/flaky/1", content: null);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(1, _calls);
    }

    [Fact]
    public async Task Get_ClientError_NotRetried()
    {
        var response = await CreateClient().GetAsync("/missing");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(1, _calls);
    }

    private HttpClient CreateClient()
    {
        var client = _client.Services.GetRequiredService<IHttpClientFactory>().CreateClient();
        client.BaseAddress = new Uri(_server.Urls.Single());
        return client;
    }
}
