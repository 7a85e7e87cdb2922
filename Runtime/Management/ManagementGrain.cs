using Orchestration.Runtime.Clustering;
using Orchestration.Runtime.Placement;

namespace Orchestration.Runtime.Management;

/// <summary>
/// Reports the cluster: in a cluster of processes, every silo generation of the membership table (activation counts
/// for the silo that answers only); in the in-process test cluster, every silo; otherwise this silo alone.
/// </summary>
internal sealed class ManagementGrain(SiloRuntime runtime) : Grain, IManagementGrain
{
    public Task<ClusterStatus> GetClusterStatusAsync()
    {
        var silos = runtime.Cluster?.Map.Snapshot is { } snapshot
            ? FromMembership(snapshot)
            : runtime.Router is IClusterMembership membership
                ? membership.Silos.Select(silo => silo.GetStatus()).ToList()
                : [runtime.GetStatus()];
        return Task.FromResult(new ClusterStatus(runtime.Storage.ProviderName, silos));
    }

    private List<SiloStatus> FromMembership(MembershipSnapshot snapshot)
    {
        var self = runtime.Cluster!.Keeper?.Self;
        var here = runtime.GetStatus();
        return
        [
            .. snapshot.Silos.Select(silo => new SiloStatus(
                silo.SiloId,
                silo.Address,
                PostgresMembershipTable.StatusName(silo.Status),
                silo.StartedAt,
                silo.HeartbeatAt,
                self is not null && silo.IsSameGeneration(self) ? here.ActivationCount : 0,
                self is not null && silo.IsSameGeneration(self) ? here.ActivationsByGrainType : new Dictionary<string, int>(),
                silo.Generation,
                snapshot.Partitions.Count(owner => owner.IsHeldBy(silo) && !owner.IsAvailable(snapshot.Now)))),
        ];
    }
}
