namespace Orchestration.Runtime.Transport;

/// <summary>Request/response to another process by address: the seam routing is tested through (with a fake network).</summary>
internal interface ISiloTransport
{
    /// <summary>
    /// Sends <paramref name="request"/> to <paramref name="address"/> and tells <paramref name="receiver"/> how it ended,
    /// once. <paramref name="request"/> must stay unchanged until then.
    /// </summary>
    /// <remarks>
    /// Failures reach <see cref="IAnswerReceiver.OnFailure"/>: <see cref="SiloUnreachableException"/> (no connection, or it
    /// broke; see <see cref="SiloUnreachableException.MayHaveBeenDelivered"/>), <see cref="SiloRequestFailedException"/>,
    /// or <see cref="TimeoutException"/> (no answer within <paramref name="timeout"/>; the request may have been delivered).
    /// </remarks>
    void Send(string address, ReadOnlyMemory<byte> request, TimeSpan timeout, IAnswerReceiver receiver);
}

/// <summary>
/// How a request sent with <see cref="ISiloTransport.Send"/> ended. Called once, on the thread that learned it: for an
/// answer that is the connection's read loop, which reads every other answer on that connection too, so neither method
/// may block or run code that might (hand such work to the thread pool).
/// </summary>
internal interface IAnswerReceiver
{
    /// <summary><paramref name="answer"/> is a fresh array the receiver owns.</summary>
    void OnAnswer(ReadOnlyMemory<byte> answer);

    void OnFailure(Exception exception);
}
