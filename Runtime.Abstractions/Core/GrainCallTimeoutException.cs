namespace Orchestration.Runtime;

/// <summary>A grain call did not complete within the response timeout. The call may still complete on the grain.</summary>
public sealed class GrainCallTimeoutException : TimeoutException
{
    /// <summary>Creates the exception for a call to <paramref name="method"/> on <paramref name="grainId"/>.</summary>
    public GrainCallTimeoutException(GrainId grainId, string method, TimeSpan timeout)
        : base($"Call to {method} on grain {grainId} did not complete within {timeout.TotalSeconds:0.###} s.")
    {
        GrainId = grainId;
        Method = method;
        Timeout = timeout;
    }

    /// <summary>The response timeout that passed.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>The called grain.</summary>
    public GrainId GrainId { get; }

    /// <summary>The called method, as <c>Interface.Method</c>.</summary>
    public string Method { get; }
}
