namespace Orchestration.Grains.Idempotency;

/// <summary>What <see cref="IIdempotencyGrain.BeginAsync"/> found.</summary>
/// <param name="Outcome">Whether the caller should run the request, replay, or refuse.</param>
/// <param name="Response">The answer to replay when <see cref="IdempotencyOutcome.Completed"/>; otherwise <c>null</c>.</param>
public sealed record IdempotencyResult(IdempotencyOutcome Outcome, IdempotentResponse? Response)
{
    /// <summary>
    /// When <see cref="IdempotencyOutcome.Started"/>: the id this key reserved for what the request creates (the first
    /// run's <see cref="IdempotencyBegin.ProposedId"/>, kept for every later run while the record lasts).
    /// </summary>
    public string? ReservedId { get; init; }

    /// <summary>
    /// When <see cref="IdempotencyOutcome.Started"/>: an earlier run of this key, with the same body, was never answered
    /// (its process crashed) and may have taken effect.
    /// </summary>
    public bool IsRerun { get; init; }

    /// <summary>When <see cref="IdempotencyOutcome.Started"/>: names this run, for <see cref="IIdempotencyGrain.CompleteAsync"/>.</summary>
    public string? RunId { get; init; }
}
