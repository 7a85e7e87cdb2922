namespace Orchestration.Runtime.Clustering;

/// <summary>
/// Grain keys hash to a fixed set of partitions; a partition is the unit of ownership: leased by one silo at a time,
/// fenced by its epoch in every commit. The count is part of the schema (one lease row per partition), so changing it
/// is a migration.
/// </summary>
internal static class ClusterPartitions
{
    public const int Count = 256;

    /// <summary>The grain's partition: stable across processes and builds (FNV-1a, then a SplitMix64 finalizer).</summary>
    public static int Of(GrainId grainId)
    {
        var hash = 14695981039346656037UL;
        hash = Mix(hash, grainId.Type);
        hash = (hash ^ '/') * 1099511628211UL;
        hash = Mix(hash, grainId.Key);
        hash = (hash ^ (hash >> 30)) * 0xBF58476D1CE4E5B9UL;
        hash = (hash ^ (hash >> 27)) * 0x94D049BB133111EBUL;
        hash ^= hash >> 31;
        return (int)(hash % Count);
    }

    private static ulong Mix(ulong hash, string text)
    {
        foreach (var character in text)
        {
            hash = (hash ^ character) * 1099511628211UL;
        }

        return hash;
    }
}
