namespace Orchestration.Runtime;

/// <summary>Why an activation is being deactivated.</summary>
public enum DeactivationReason
{
    /// <summary>The grain asked for it with <see cref="IGrainContext.DeactivateOnIdle"/>.</summary>
    ApplicationRequested,

    /// <summary>It was idle longer than the collection age.</summary>
    IdleCollection,

    /// <summary>A state write found a newer version in storage; the activation is discarded and reactivated from storage.</summary>
    InconsistentState,

    /// <summary>The silo is shutting down.</summary>
    ShuttingDown,

    /// <summary>Activation failed.</summary>
    ActivationFailed,

    /// <summary>The set of silos changed and another silo now owns the grain; it reactivates there on its next call.</summary>
    PlacementChanged,

    /// <summary>
    /// The silo lost the lease of the grain's partition (it could not renew in time, or was declared dead): the activation
    /// is discarded without <c>OnDeactivateAsync</c>, since nothing it wrote could be stored any more.
    /// </summary>
    OwnershipLost,
}
