namespace Orchestration.Runtime.Management;

/// <summary>One silo's status.</summary>
/// <param name="SiloId">The silo's unique id.</param>
/// <param name="Address">Where other processes reach it.</param>
/// <param name="Status"><c>active</c>, <c>joining</c>, <c>shutting_down</c> or <c>dead</c>.</param>
/// <param name="StartedAt">When it started.</param>
/// <param name="LastHeartbeatAt">Its latest heartbeat.</param>
/// <param name="ActivationCount">Its activations in total (in a cluster of processes, known for the answering silo only).</param>
/// <param name="ActivationsByGrainType">Its activations per grain type.</param>
/// <param name="Generation">In a cluster of processes: which start of the silo this is (a new one at every start).</param>
/// <param name="OwnedPartitions">In a cluster of processes: how many partitions it holds a live lease on.</param>
public sealed record SiloStatus(
    string SiloId,
    string Address,
    string Status,
    DateTimeOffset StartedAt,
    DateTimeOffset LastHeartbeatAt,
    int ActivationCount,
    IReadOnlyDictionary<string, int> ActivationsByGrainType,
    long? Generation = null,
    int? OwnedPartitions = null);
