using Orchestration.Runtime;
using Orchestration.Runtime.Reminders;

namespace Orchestration.Grains.Idempotency;

/// <summary>
/// One idempotency record (key: lower-case hex SHA-256 of the calling key id, method, path and <c>Idempotency-Key</c>).
/// It remembers the hash of the first request's canonical JSON body and, once answered, that answer, so a repeat is
/// replayed on any Api process and after restarts. A durable reminder removes the record when it expires.
/// </summary>
public interface IIdempotencyGrain : IGrainWithStringKey, IRemindable
{
    /// <summary>
    /// Starts a request: <see cref="IdempotencyOutcome.Started"/> when nothing (unexpired) is recorded, and then the
    /// request is in flight until <see cref="CompleteAsync"/> or <see cref="IdempotencyBegin.InFlightTimeout"/> (a
    /// crashed request must not block its key forever).
    /// </summary>
    Task<IdempotencyResult> BeginAsync(IdempotencyBegin request);

    /// <summary>
    /// Records the answer of run <paramref name="runId"/> (<see cref="IdempotencyResult.RunId"/>) while it is the record's
    /// latest run and unanswered; anything else is ignored. A run that outlived its in-flight deadline and was run again
    /// is superseded: its late answer may be stale (a key's secret the re-run replaced), and the re-run's is replayed.
    /// </summary>
    Task CompleteAsync(string runId, IdempotentResponse response);
}
