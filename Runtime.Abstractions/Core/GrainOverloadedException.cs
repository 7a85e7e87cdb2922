namespace Orchestration.Runtime;

/// <summary>
/// A call was rejected because its activation already held too many calls, running or waiting (see the silo's
/// <c>MaxEnqueuedRequestsHardLimit</c>). Nothing of the call ran; the caller may retry later.
/// </summary>
public sealed class GrainOverloadedException : Exception
{
    /// <summary>Creates the exception for a call to <paramref name="method"/> on <paramref name="grainId"/>.</summary>
    public GrainOverloadedException(GrainId grainId, string method, int queued)
        : base($"Call to {method} on grain {grainId} was rejected: {queued} calls are already running or waiting on it (the hard limit).")
    {
        GrainId = grainId;
        Method = method;
        Queued = queued;
    }

    /// <summary>How many calls the activation already held, running or waiting.</summary>
    public int Queued { get; }

    /// <summary>The called grain.</summary>
    public GrainId GrainId { get; }

    /// <summary>The called method, as <c>Interface.Method</c>.</summary>
    public string Method { get; }
}
