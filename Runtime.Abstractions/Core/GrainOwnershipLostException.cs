namespace Orchestration.Runtime;

/// <summary>
/// A write was refused because the silo no longer owns the grain's partition (its lease ended, or the database holds a
/// newer epoch for it): nothing of the write was stored. The activation is discarded; a retried call reaches the
/// grain's current owner, which reads the state as last committed.
/// </summary>
public sealed class GrainOwnershipLostException : Exception
{
    /// <summary>Creates the exception for a write of <paramref name="grainId"/>.</summary>
    public GrainOwnershipLostException(GrainId grainId, string reason)
        : base($"Grain {grainId}: the write was refused because this silo no longer owns the grain ({reason}); nothing was stored.")
    {
        GrainId = grainId;
        Reason = reason;
    }

    /// <summary>The grain whose write was refused.</summary>
    public GrainId GrainId { get; }

    /// <summary>Why this silo no longer owns it. A property, so a caller in another process rebuilds this exception.</summary>
    public string Reason { get; }
}
