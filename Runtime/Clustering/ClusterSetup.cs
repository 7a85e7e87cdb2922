namespace Orchestration.Runtime.Clustering;

/// <summary>
/// How a process takes part in a cluster on PostgreSQL: a silo serves its share of partitions; a client (the Api in
/// cluster mode) serves none and sends every call to the owners.
/// </summary>
internal sealed record ClusterSetup(string ConnectionString, bool ServesPartitions);
