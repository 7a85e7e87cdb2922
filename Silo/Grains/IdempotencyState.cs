using Orchestration.Grains.Idempotency;

namespace Orchestration.Silo.Grains;

/// <summary>The persisted state of an <see cref="IdempotencyGrain"/>.</summary>
internal sealed class IdempotencyState
{
    /// <summary>The hash of the first request's canonical body.</summary>
    public string RequestHash { get; set; } = string.Empty;

    /// <summary>When the record stops counting: the in-flight deadline, then the end of the retention.</summary>
    public DateTimeOffset ExpiresAt { get; set; }

    /// <summary>How long the answer is replayed once it is recorded.</summary>
    public TimeSpan Retention { get; set; }

    /// <summary>The id reserved for what the request creates (<see cref="IdempotencyBegin.ProposedId"/> of the first run).</summary>
    public string? ReservedId { get; set; }

    /// <summary>The latest run's id: only its answer is recorded. Records of the previous release have none (then the request hash names the run).</summary>
    public string? RunId { get; set; }

    /// <summary>The answer; <c>null</c> while the request is in flight.</summary>
    public IdempotentResponse? Response { get; set; }
}
