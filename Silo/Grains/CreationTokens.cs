namespace Orchestration.Silo.Grains;

/// <summary>
/// The rule by which a create finds what an earlier run of the same request made: the object keeps the token it was
/// created under (the id the request's <c>Idempotency-Key</c> reserved, the same in every run of the key), and a create
/// that finds the object answers it only under that token. A request without a key has no token and never matches, so
/// two different requests naming the same id still conflict.
/// </summary>
internal static class CreationTokens
{
    /// <summary>
    /// Whether a create under <paramref name="presented"/> is a run of the request that created the object
    /// <paramref name="id"/>, which keeps <paramref name="kept"/>. Objects created before tokens were kept have none;
    /// for them a token equal to the id still matches: the server mints reserved ids (80 random bits) and that request
    /// named the object by its own.
    /// </summary>
    public static bool Match(string? kept, string? presented, string id) =>
        presented is not null && string.Equals(kept ?? id, presented, StringComparison.Ordinal);
}
