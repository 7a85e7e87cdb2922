namespace Orchestration.Runtime.Transport;

/// <summary>Request/response to another process by address: the seam routing is tested through (with a fake network).</summary>
internal interface ISiloTransport
{
    /// <summary>Sends <paramref name="request"/> to <paramref name="address"/> and returns the answer.</summary>
    /// <exception cref="SiloUnreachableException">No connection, or it broke; see <see cref="SiloUnreachableException.MayHaveBeenDelivered"/>.</exception>
    /// <exception cref="TimeoutException">No answer within <paramref name="timeout"/> (the request may have been delivered).</exception>
    Task<ReadOnlyMemory<byte>> SendAsync(string address, ReadOnlyMemory<byte> request, TimeSpan timeout, CancellationToken cancellationToken = default);
}
