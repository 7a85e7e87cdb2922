namespace Orchestration.Grains.Idempotency;

/// <summary>Starts an idempotent request.</summary>
/// <param name="RequestHash">Lower-case hex SHA-256 of the request's canonical JSON body.</param>
/// <param name="InFlightTimeout">How long the request may stay in flight before the key is free again.</param>
/// <param name="Retention">How long an answered request is replayed. Default in the Api: 24 h.</param>
public sealed record IdempotencyBegin(string RequestHash, TimeSpan InFlightTimeout, TimeSpan Retention)
{
    /// <summary>
    /// The same body's hash in the form an earlier release computed, if it differs: a record that release made matches
    /// it too (a retry crossing a rolling upgrade). A new record keeps <see cref="RequestHash"/>.
    /// </summary>
    public string? EarlierFormHash { get; init; }

    /// <summary>
    /// An id for what the request creates when its client names none. A new record keeps it; a run after an earlier
    /// one that was never answered (its process crashed) gets the earlier run's id back instead, so a second run finds
    /// what the first may have created rather than creating it again. See <see cref="IdempotencyResult.ReservedId"/>.
    /// </summary>
    public string? ProposedId { get; init; }
}
