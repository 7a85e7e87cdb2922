namespace Orchestration.Grains.Idempotency;

/// <summary>What <see cref="IIdempotencyGrain.BeginAsync"/> found.</summary>
/// <param name="Outcome">Whether the caller should run the request, replay, or refuse.</param>
/// <param name="Response">The answer to replay when <see cref="IdempotencyOutcome.Completed"/>; otherwise <c>null</c>.</param>
public sealed record IdempotencyResult(IdempotencyOutcome Outcome, IdempotentResponse? Response);
