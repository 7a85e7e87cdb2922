using Orchestration.Runtime.Activations;

namespace Orchestration.Runtime.Placement;

/// <summary>
/// The cluster-wide record of which activation each grain has, as Orleans' grain directory: registering is what makes
/// an activation the grain's one activation. A silo that finds the grain registered elsewhere sends the call there
/// instead of creating a second activation, so a grain that moves (silos join or leave) is never active twice.
/// </summary>
internal interface IGrainDirectory
{
    /// <summary>Registers <paramref name="activation"/> unless the grain already has one; returns the registered activation.</summary>
    ActivationData Register(ActivationData activation);

    /// <summary>Removes the registration if it is still <paramref name="activation"/>'s.</summary>
    void Unregister(ActivationData activation);
}
