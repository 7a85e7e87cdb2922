using Orchestration.Runtime.Clustering;
using Orchestration.Runtime.Placement;

namespace Orchestration.Runtime.Management;

/// <summary>
/// Reports the cluster: in a cluster of processes, every silo generation of the membership table (activation counts
/// for the silo that answers only); in the in-process test cluster, every silo; otherwise this silo alone.
/// </summary>
internal sealed class ManagementGrain(SiloRuntime runtime) : Grain, IManagementGrain
{
    private static readonly TimeSpan s_askTimeout = TimeSpan.FromSeconds(1);

    public async Task<ClusterStatus> GetClusterStatusAsync()
    {
        var silos = runtime.Cluster is { Map.Snapshot: { } snapshot } cluster
            ? await FromMembershipAsync(cluster, snapshot)
            : runtime.Router is IClusterMembership membership
                ? membership.Silos.Select(silo => silo.GetStatus()).ToList()
                : [runtime.GetStatus()];
        return new ClusterStatus(runtime.Storage.ProviderName, silos);
    }

    /// <summary>
    /// Every generation in the membership table, with its partitions; the other live ones are asked for their activation
    /// counts at once (one that does not answer within a second shows none), this silo answers for itself.
    /// </summary>
    private async Task<List<SiloStatus>> FromMembershipAsync(ClusterMembership cluster, MembershipSnapshot snapshot)
    {
        var self = cluster.Keeper?.Self;
        var answers = await Task.WhenAll(snapshot.Silos.Select(silo =>
            silo.Status == SiloMembershipStatus.Dead ? Task.FromResult<SiloStatus?>(null)
            : self is not null && silo.IsSameGeneration(self) ? Task.FromResult<SiloStatus?>(runtime.GetStatus())
            : cluster.AskStatusAsync(silo.Address, s_askTimeout)));
        return
        [
            .. snapshot.Silos.Select((silo, index) => new SiloStatus(
                silo.SiloId,
                silo.Address,
                PostgresMembershipTable.StatusName(silo.Status),
                silo.StartedAt,
                silo.HeartbeatAt,
                answers[index]?.ActivationCount ?? 0,
                answers[index]?.ActivationsByGrainType ?? new Dictionary<string, int>(),
                silo.Generation,
                snapshot.Partitions.Count(owner => owner.IsHeldBy(silo) && !owner.IsAvailable(snapshot.Now)))),
        ];
    }
}
