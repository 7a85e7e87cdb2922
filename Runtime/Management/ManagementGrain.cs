using Orchestration.Runtime.Placement;

namespace Orchestration.Runtime.Management;

/// <summary>Reports the cluster: every silo the router knows, or this silo alone.</summary>
internal sealed class ManagementGrain(SiloRuntime runtime) : Grain, IManagementGrain
{
    public Task<ClusterStatus> GetClusterStatusAsync()
    {
        var silos = runtime.Router is IClusterMembership membership
            ? membership.Silos.Select(silo => silo.GetStatus()).ToList()
            : [runtime.GetStatus()];
        return Task.FromResult(new ClusterStatus(runtime.Storage.ProviderName, silos));
    }
}
