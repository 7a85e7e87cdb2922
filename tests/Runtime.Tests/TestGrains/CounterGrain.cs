namespace Orchestration.Runtime.Tests.TestGrains;

public interface ICounterGrain : IGrainWithStringKey
{
    /// <summary>Reads, yields, then writes: lost updates show if two calls ever overlap.</summary>
    Task<int> IncrementAsync();

    Task AppendAsync(int value);

    Task<IReadOnlyList<int>> GetAppendedAsync();

    Task<int> GetMaxConcurrencyAsync();

    Task<string> GetActivationIdAsync();

    Task DeactivateAsync();
}

public sealed class CounterGrain(GrainProbe probe) : Grain, ICounterGrain
{
    private readonly string _activationId = Guid.NewGuid().ToString("N");
    private readonly List<int> _appended = [];
    private int _value;
    private int _running;
    private int _maxConcurrency;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        probe.Record($"activate:{GetPrimaryKeyString()}");
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        probe.Record($"deactivate:{GetPrimaryKeyString()}:{reason}");
        return Task.CompletedTask;
    }

    public async Task<int> IncrementAsync()
    {
        var running = Interlocked.Increment(ref _running);
        _maxConcurrency = Math.Max(_maxConcurrency, running);
        var value = _value;
        await Task.Yield();
        _value = value + 1;
        Interlocked.Decrement(ref _running);
        return _value;
    }

    public Task AppendAsync(int value)
    {
        _appended.Add(value);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<int>> GetAppendedAsync() => Task.FromResult<IReadOnlyList<int>>(_appended.ToList());

    public Task<int> GetMaxConcurrencyAsync() => Task.FromResult(_maxConcurrency);

    public Task<string> GetActivationIdAsync() => Task.FromResult(_activationId);

    public Task DeactivateAsync()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}
