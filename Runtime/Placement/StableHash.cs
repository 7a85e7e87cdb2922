namespace Orchestration.Runtime.Placement;

/// <summary>
/// The one hash placement uses for strings (rendezvous weights, grain partitions): FNV-1a 64 over the characters, then
/// a SplitMix64 finalizer. Stable across processes and builds, unlike <see cref="string.GetHashCode()"/>, which .NET
/// randomizes per process; the finalizer spreads FNV's weak low bits so a modulus or a maximum is fair.
/// </summary>
internal static class StableHash
{
    public const ulong Seed = 14695981039346656037UL; // FNV-1a 64 offset basis

    public static ulong Mix(ulong hash, string text)
    {
        foreach (var character in text)
        {
            hash = (hash ^ character) * 1099511628211UL; // FNV-1a 64 prime
        }

        return hash;
    }

    public static ulong Mix(ulong hash, char character) => (hash ^ character) * 1099511628211UL;

    public static ulong Finalize(ulong hash)
    {
        hash = (hash ^ (hash >> 30)) * 0xBF58476D1CE4E5B9UL;
        hash = (hash ^ (hash >> 27)) * 0x94D049BB133111EBUL;
        return hash ^ (hash >> 31);
    }
}
