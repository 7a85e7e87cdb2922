using Orchestration.Grains.Idempotency;
using Orchestration.Runtime;
using Orchestration.Runtime.Reminders;

namespace Orchestration.Silo.Grains;

/// <summary>
/// One idempotency record. Expiry is lazy (an expired record counts as absent) and a one-shot reminder clears the stored
/// record once the retention has passed, so storage does not grow with every key ever used.
/// </summary>
internal sealed class IdempotencyGrain(
    [PersistentState("idempotency")] IPersistentState<IdempotencyState> record,
    TimeProvider timeProvider) : Grain, IIdempotencyGrain
{
    private const string ExpiryReminder = "expire";

    public async Task<IdempotencyResult> BeginAsync(IdempotencyBegin request)
    {
        var now = timeProvider.GetUtcNow();
        var state = record.State;
        if (record.RecordExists && state.ExpiresAt > now)
        {
            if (!Matches(state, request))
            {
                return new IdempotencyResult(IdempotencyOutcome.Mismatch, null);
            }

            return state.Response is null
                ? new IdempotencyResult(IdempotencyOutcome.InFlight, null)
                : new IdempotencyResult(IdempotencyOutcome.Completed, state.Response);
        }

        // A record past its in-flight deadline, never answered, of the same body: its run crashed, maybe after taking
        // effect. This run reuses that run's id, so it finds what that run created instead of creating it again.
        var rerun = record.RecordExists && state.Response is null && Matches(state, request);
        record.State = new IdempotencyState
        {
            RequestHash = request.RequestHash,
            ExpiresAt = now + request.InFlightTimeout,
            Retention = request.Retention,
            ReservedId = rerun ? state.ReservedId ?? request.ProposedId : request.ProposedId,
            // The first run is named by its body's hash, as the previous release completed records (a rolling upgrade
            // mixes releases); a re-run gets a name of its own, so the run it supersedes cannot answer for it.
            RunId = rerun ? Guid.NewGuid().ToString("N") : request.RequestHash,
        };

        // The reminder commits with the record, before the request runs: a crash leaves a record that it frees.
        await RegisterOrUpdateReminder(ExpiryReminder, request.InFlightTimeout + request.Retention, TimeSpan.Zero);
        await record.WriteStateAsync();
        return new IdempotencyResult(IdempotencyOutcome.Started, null) { ReservedId = record.State.ReservedId, IsRerun = rerun, RunId = record.State.RunId };
    }

    private static bool Matches(IdempotencyState state, IdempotencyBegin request) =>
        string.Equals(state.RequestHash, request.RequestHash, StringComparison.Ordinal)
        || string.Equals(state.RequestHash, request.EarlierFormHash, StringComparison.Ordinal);

    public async Task CompleteAsync(string runId, IdempotentResponse response)
    {
        var state = record.State;
        if (!record.RecordExists || state.Response is not null || !string.Equals(state.RunId ?? state.RequestHash, runId, StringComparison.Ordinal))
        {
            return;
        }

        state.Response = response;
        state.ExpiresAt = timeProvider.GetUtcNow() + state.Retention;
        await RegisterOrUpdateReminder(ExpiryReminder, state.Retention, TimeSpan.Zero);
        await record.WriteStateAsync();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        // A record still counting (a later request re-armed it) is left for its own reminder or for lazy expiry.
        if (record.RecordExists && record.State.ExpiresAt <= timeProvider.GetUtcNow())
        {
            await record.ClearStateAsync();
        }
    }
}
