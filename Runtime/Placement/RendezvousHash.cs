namespace Orchestration.Runtime.Placement;

/// <summary>
/// The weight of a (silo, grain) pair for rendezvous placement. Stable across processes and builds
/// (string.GetHashCode is randomized per process, so it cannot be used).
/// </summary>
internal static class RendezvousHash
{
    public static ulong Weight(string siloId, GrainId grainId)
    {
        var hash = 14695981039346656037UL; // FNV-1a 64 offset basis
        hash = Mix(hash, siloId);
        hash = Mix(hash, "\0");
        hash = Mix(hash, grainId.Type);
        hash = Mix(hash, "/");
        hash = Mix(hash, grainId.Key);
        return Finalize(hash);
    }

    private static ulong Mix(ulong hash, string text)
    {
        foreach (var character in text)
        {
            hash = (hash ^ character) * 1099511628211UL; // FNV-1a 64 prime
        }

        return hash;
    }

    // FNV's low bits are weak; a SplitMix64 finalizer spreads them so the highest weight is fair across silos.
    private static ulong Finalize(ulong hash)
    {
        hash = (hash ^ (hash >> 30)) * 0xBF58476D1CE4E5B9UL;
        hash = (hash ^ (hash >> 27)) * 0x94D049BB133111EBUL;
        return hash ^ (hash >> 31);
    }
}
