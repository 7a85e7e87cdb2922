namespace Orchestration.Grains.Idempotency;

/// <summary>Starts an idempotent request.</summary>
/// <param name="RequestHash">Lower-case hex SHA-256 of the request's canonical JSON body.</param>
/// <param name="InFlightTimeout">How long the request may stay in flight before the key is free again.</param>
/// <param name="Retention">How long an answered request is replayed. Default in the Api: 24 h.</param>
public sealed record IdempotencyBegin(string RequestHash, TimeSpan InFlightTimeout, TimeSpan Retention);
