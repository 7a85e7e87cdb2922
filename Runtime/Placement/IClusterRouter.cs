using Orchestration.Runtime.Calls;

namespace Orchestration.Runtime.Placement;

/// <summary>
/// The placement seam: decides which silo owns a grain and forwards calls to it. Without a router every grain is local.
/// </summary>
internal interface IClusterRouter
{
    bool IsLocal(SiloRuntime silo, GrainId grainId);

    /// <summary>Whether ownership is leased: then an activation starts only inside a lease period (<see cref="LeaseFor"/>).</summary>
    bool LeasesOwnership { get; }

    /// <summary>
    /// The lease period a new activation of <paramref name="grainId"/> on this silo starts in, whose epoch fences its
    /// writes; null when this silo does not accept the grain now, or where ownership is not leased.
    /// </summary>
    Clustering.PartitionLease? LeaseFor(GrainId grainId);

    void Forward(GrainId grainId, IGrainMessage message);
}
