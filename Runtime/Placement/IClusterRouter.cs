using Orchestration.Runtime.Calls;

namespace Orchestration.Runtime.Placement;

/// <summary>
/// The placement seam: decides which silo owns a grain and forwards calls to it. Without a router every grain is local.
/// </summary>
internal interface IClusterRouter
{
    bool IsLocal(SiloRuntime silo, GrainId grainId);

    /// <summary>
    /// The lease period a new activation of <paramref name="grainId"/> on this silo starts in, whose epoch fences its
    /// writes; null where ownership is not leased (the in-process test cluster).
    /// </summary>
    Clustering.PartitionLease? LeaseFor(GrainId grainId);

    void Forward(GrainId grainId, IGrainMessage message);
}
