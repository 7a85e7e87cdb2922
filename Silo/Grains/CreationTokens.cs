namespace Orchestration.Silo.Grains;

/// <summary>
/// The rule by which a create finds what an earlier run of the same request made: the object keeps the token it was
/// created under (the id the request's <c>Idempotency-Key</c> reserved, the same in every run of the key), and a create
/// that finds the object answers it only under that token. A request without a key has no token and never matches, so
/// two different requests naming the same id still conflict.
/// </summary>
internal static class CreationTokens
{
    /// <summary>Whether a create under <paramref name="presented"/> is a run of the request that created the object.</summary>
    public static bool Match(string? kept, string? presented) =>
        presented is not null && string.Equals(kept, presented, StringComparison.Ordinal);
}
