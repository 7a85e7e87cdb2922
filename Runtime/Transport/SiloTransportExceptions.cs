namespace Orchestration.Runtime.Transport;

/// <summary>
/// The request got no answer because the connection to <see cref="Address"/> could not be made or broke.
/// <see cref="MayHaveBeenDelivered"/> says whether sending it elsewhere could run it twice.
/// </summary>
internal sealed class SiloUnreachableException(string address, bool mayHaveBeenDelivered, string message, Exception? innerException = null)
    : Exception(message, innerException)
{
    public string Address { get; } = address;

    /// <summary>
    /// <see langword="false"/>: the request never left this process, or the server refused it unprocessed (it was
    /// stopping) — safe to retry anywhere. <see langword="true"/>: the connection broke after the request was written,
    /// so the handler may have run.
    /// </summary>
    public bool MayHaveBeenDelivered { get; } = mayHaveBeenDelivered;
}

/// <summary>The server's handler threw while answering; <see cref="Exception.Message"/> is its exception type and message.</summary>
internal sealed class SiloRequestFailedException(string address, string message) : Exception(message)
{
    public string Address { get; } = address;
}
