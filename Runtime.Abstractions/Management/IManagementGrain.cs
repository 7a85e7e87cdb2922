namespace Orchestration.Runtime.Management;

/// <summary>The cluster's own system grain: reports silos, activations and storage. Use key <see cref="DefaultKey"/>.</summary>
public interface IManagementGrain : IGrainWithStringKey
{
    /// <summary>The key of the one management grain.</summary>
    const string DefaultKey = "cluster";

    /// <summary>Returns the status of every silo in the cluster.</summary>
    [AlwaysInterleave]
    Task<ClusterStatus> GetClusterStatusAsync();
}
