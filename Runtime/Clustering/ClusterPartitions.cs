using Orchestration.Runtime.Placement;

namespace Orchestration.Runtime.Clustering;

/// <summary>
/// Grain keys hash to a fixed set of partitions; a partition is the unit of ownership: leased by one silo at a time,
/// fenced by its epoch in every commit. The count is part of the schema (one lease row per partition), so changing it
/// is a migration.
/// </summary>
internal static class ClusterPartitions
{
    public const int Count = 256;

    /// <summary>The grain's partition: stable across processes and builds.</summary>
    public static int Of(GrainId grainId)
    {
        var hash = StableHash.Mix(StableHash.Seed, grainId.Type);
        hash = StableHash.Mix(hash, '/');
        hash = StableHash.Mix(hash, grainId.Key);
        return (int)(StableHash.Finalize(hash) % Count);
    }
}
