using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Orchestration.Runtime.Bench;

/// <summary>
/// The transport candidate that lost (ADR 7), kept so the comparison can be re-run: HTTP/2 cleartext with prior
/// knowledge, a Kestrel endpoint that echoes the request body and a <see cref="SocketsHttpHandler"/> that multiplexes
/// requests over as many connections as the server's stream limit needs.
/// </summary>
internal sealed class Http2RoundTrip : IRoundTripCandidate
{
    private readonly WebApplication _app;
    private readonly HttpMessageInvoker _client;
    private readonly Uri _uri;

    private Http2RoundTrip(WebApplication app, Uri uri)
    {
        _app = app;
        _uri = uri;
        _client = new HttpMessageInvoker(new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
        });
    }

    public string Name => "http2";

    public static async Task<Http2RoundTrip> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        var app = builder.Build();
        app.Run(EchoAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new Http2RoundTrip(app, new Uri(address));
    }

    public async Task<ReadOnlyMemory<byte>> SendAsync(ReadOnlyMemory<byte> request)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, _uri)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ReadOnlyMemoryContent(request),
        };
        using var response = await _client.SendAsync(message, CancellationToken.None);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsByteArrayAsync();
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>The empty handler: the body read into one array (as the TCP server hands it over) and written back.</summary>
    private static async Task EchoAsync(HttpContext context)
    {
        var body = new byte[(int)(context.Request.ContentLength ?? 0)];
        await context.Request.Body.ReadExactlyAsync(body);
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body);
    }
}
