namespace Orchestration.Runtime;

/// <summary>
/// A call was cut off because the silo running it became unreachable after the call reached it (the silo crashed, or
/// the connection broke): it may or may not have run. Calls that certainly did not run are sent again by the runtime
/// (to the grain's next owner) and never end with this exception.
/// </summary>
public sealed class SiloUnavailableException : Exception
{
    /// <summary>Creates the exception for a call to <paramref name="method"/> on <paramref name="grainId"/> at <paramref name="silo"/>.</summary>
    public SiloUnavailableException(GrainId grainId, string method, string silo)
        : base($"Call to {method} on grain {grainId}: silo {silo} became unreachable while the call was in flight; it may or may not have run.")
    {
        GrainId = grainId;
        Method = method;
        Silo = silo;
    }

    /// <summary>The called grain.</summary>
    public GrainId GrainId { get; }

    /// <summary>The called method, as <c>Interface.Method</c>.</summary>
    public string Method { get; }

    /// <summary>The address of the silo that became unreachable.</summary>
    public string Silo { get; }
}
