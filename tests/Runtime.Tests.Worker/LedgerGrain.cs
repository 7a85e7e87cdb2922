using Orchestration.Runtime.Streams;

namespace Orchestration.Runtime.Tests.Worker;

public sealed class LedgerState
{
    public long Value { get; set; }
}

public sealed record LedgerWritten(string Key, long Value);

public sealed record CrossProcessEvent(int Number);

public interface ILedgerGrain : IGrainWithStringKey
{
    /// <summary>Stores <paramref name="value"/> with one event; completes once both are durable.</summary>
    Task WriteAsync(long value);
}

public sealed class LedgerGrain([PersistentState("ledger")] IPersistentState<LedgerState> ledger) : Grain, ILedgerGrain
{
    public async Task WriteAsync(long value)
    {
        ledger.State.Value = value;
        await GetStream<LedgerWritten>(new StreamId("ledger", GetPrimaryKeyString())).OnNextAsync(new LedgerWritten(GetPrimaryKeyString(), value));
        await ledger.WriteStateAsync();
    }
}
