using Orchestration.Runtime.Calls;

namespace Orchestration.Runtime.Placement;

/// <summary>
/// The placement seam: decides which silo owns a grain and forwards calls to it. Without a router every grain is local.
/// </summary>
internal interface IClusterRouter
{
    bool IsLocal(SiloRuntime silo, GrainId grainId);

    void Forward(GrainId grainId, IGrainMessage message);
}
