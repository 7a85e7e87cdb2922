namespace Orchestration.Runtime.Bench;

public interface IPingGrain : IGrainWithStringKey
{
    Task<int> PingAsync(int value);
}

/// <summary>No state, no I/O: measures the call path alone.</summary>
public sealed class PingGrain : Grain, IPingGrain
{
    public Task<int> PingAsync(int value) => Task.FromResult(value + 1);
}

public interface IEmptyGrain : IGrainWithStringKey
{
    Task TouchAsync();
}

/// <summary>An activation with nothing in it: what the runtime itself costs per activation.</summary>
public sealed class EmptyGrain : Grain, IEmptyGrain
{
    public Task TouchAsync() => Task.CompletedTask;
}

public sealed class CounterState
{
    public long Value { get; set; }
}

public sealed record CounterIncremented(string Key, long Value);

public interface IDurableCounterGrain : IGrainWithStringKey
{
    /// <summary>Increments, raises one event and writes state: one durable write.</summary>
    Task IncrementAsync();
}

public sealed class DurableCounterGrain([PersistentState("counter")] IPersistentState<CounterState> counter) : Grain, IDurableCounterGrain
{
    public async Task IncrementAsync()
    {
        counter.State.Value++;
        await GetStream<CounterIncremented>(new Streams.StreamId("counters", GetPrimaryKeyString()))
            .OnNextAsync(new CounterIncremented(GetPrimaryKeyString(), counter.State.Value));
        await counter.WriteStateAsync();
    }
}
