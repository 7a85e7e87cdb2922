namespace Orchestration.Runtime;

/// <summary>
/// A state write carried a stale version: another activation (or process) wrote the same state since this one read it.
/// The activation that failed is discarded; the next call reactivates the grain from storage.
/// </summary>
public sealed class InconsistentStateException : Exception
{
    /// <summary>Creates the exception for <paramref name="grainId"/>'s state <paramref name="stateName"/>.</summary>
    public InconsistentStateException(GrainId grainId, string stateName, string? expectedEtag)
        : base($"State '{stateName}' of grain {grainId} was changed by someone else (expected version {expectedEtag ?? "none"}); the activation was discarded.")
    {
        GrainId = grainId;
        StateName = stateName;
    }

    /// <summary>The grain whose write failed.</summary>
    public GrainId GrainId { get; }

    /// <summary>The state's name.</summary>
    public string StateName { get; }
}
