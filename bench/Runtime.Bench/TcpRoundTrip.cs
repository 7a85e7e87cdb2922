using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Runtime.Transport;

namespace Orchestration.Runtime.Bench;

/// <summary>The runtime's own transport (framed TCP, ADR 7) with an echo handler.</summary>
internal sealed class TcpRoundTrip(SiloTransportServer server, SiloTransportClient client) : IRoundTripCandidate
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    public string Name => "tcp";

    public static async Task<TcpRoundTrip> StartAsync()
    {
        var server = await SiloTransportServer.StartAsync(IPAddress.Loopback, 0, static (request, _) => ValueTask.FromResult(request), NullLogger.Instance);
        return new TcpRoundTrip(server, new SiloTransportClient(NullLogger.Instance));
    }

    public Task<ReadOnlyMemory<byte>> SendAsync(ReadOnlyMemory<byte> request) => client.SendAsync(server.Address, request, s_timeout);

    public async ValueTask DisposeAsync()
    {
        await client.DisposeAsync();
        await server.DisposeAsync();
    }
}

/// <summary>A request/response transport under test: an echo server and a client to it, in this process.</summary>
internal interface IRoundTripCandidate : IAsyncDisposable
{
    string Name { get; }

    Task<ReadOnlyMemory<byte>> SendAsync(ReadOnlyMemory<byte> request);
}
