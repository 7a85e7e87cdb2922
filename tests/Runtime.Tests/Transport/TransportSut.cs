using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Runtime.Transport;

namespace Orchestration.Runtime.Tests.Transport;

/// <summary>A server on a free loopback port and a client, disposed together.</summary>
internal sealed class TransportSut : IAsyncDisposable
{
    private TransportSut(SiloTransportServer server, SiloTransportClient client)
    {
        Server = server;
        Client = client;
    }

    public SiloTransportServer Server { get; private set; }

    public SiloTransportClient Client { get; }

    public static async Task<TransportSut> StartAsync(SiloRequestHandler handler, SiloTransportOptions? options = null, TimeProvider? clientTime = null)
    {
        var server = await StartServerAsync(handler, port: 0, options);
        return new TransportSut(server, new SiloTransportClient(NullLogger.Instance, clientTime, options));
    }

    public static Task<SiloTransportServer> StartServerAsync(SiloRequestHandler handler, int port, SiloTransportOptions? options = null) =>
        SiloTransportServer.StartAsync(IPAddress.Loopback, port, handler, NullLogger.Instance, CancellationToken.None, options: options);

    /// <summary>Stops the server and starts a new one with <paramref name="handler"/> on the same port.</summary>
    public async Task RestartServerAsync(SiloRequestHandler handler)
    {
        var port = Server.Port;
        await Server.DisposeAsync();
        Server = await StartServerAsync(handler, port);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
    }
}
