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
}
