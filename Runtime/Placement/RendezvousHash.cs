namespace Orchestration.Runtime.Placement;

/// <summary>The weight of a (silo, grain) pair for rendezvous placement: the highest weight wins the grain.</summary>
internal static class RendezvousHash
{
    public static ulong Weight(string siloId, GrainId grainId)
    {
        var hash = StableHash.Mix(StableHash.Seed, siloId);
        hash = StableHash.Mix(hash, '\0');
        hash = StableHash.Mix(hash, grainId.Type);
        hash = StableHash.Mix(hash, '/');
        hash = StableHash.Mix(hash, grainId.Key);
        return StableHash.Finalize(hash);
    }
}
