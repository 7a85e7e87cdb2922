namespace Orchestration.Runtime.Tests.TestGrains;

/// <summary>A call that waits for another call to open the gate: completes only if calls can interleave.</summary>
public interface IGateGrain : IGrainWithStringKey
{
    Task WaitForGateAsync();

    Task OpenGateAsync();

    /// <summary>Opens the gate as an interleaving call, so even a non-reentrant grain's waiter can finish.</summary>
    [AlwaysInterleave]
    Task OpenGateInterleavedAsync();

    /// <summary>How many calls have started, readable while others run.</summary>
    [AlwaysInterleave]
    Task<int> GetStartedCountAsync();

    Task<int> GetMaxConcurrencyAsync();
}

public interface IPlainGateGrain : IGateGrain;

public interface IReentrantGateGrain : IGateGrain;

public abstract class GateGrainBase : Grain, IGateGrain
{
    private readonly TaskCompletionSource _gate = new();
    private int _started;
    private int _running;
    private int _maxConcurrency;

    public async Task WaitForGateAsync()
    {
        Enter();
        try
        {
            // Awaiting yields the turn; with interleaving, other calls run here, but never at the same time as this code.
            for (var i = 0; i < 3; i++)
            {
                Leave();
                await Task.Yield();
                Enter(counts: false);
            }

            Leave();
            await _gate.Task;
            Enter(counts: false);
        }
        finally
        {
            Leave();
        }
    }

    public Task OpenGateAsync()
    {
        Enter();
        _gate.TrySetResult();
        Leave();
        return Task.CompletedTask;
    }

    public Task OpenGateInterleavedAsync() => OpenGateAsync();

    public Task<int> GetStartedCountAsync() => Task.FromResult(Volatile.Read(ref _started));

    public Task<int> GetMaxConcurrencyAsync() => Task.FromResult(_maxConcurrency);

    private void Enter(bool counts = true)
    {
        if (counts)
        {
            Interlocked.Increment(ref _started);
        }

        var running = Interlocked.Increment(ref _running);
        _maxConcurrency = Math.Max(_maxConcurrency, running);
        Thread.SpinWait(1000); // widen the window in which parallel execution would be seen
    }

    private void Leave() => Interlocked.Decrement(ref _running);
}

public sealed class GateGrain : GateGrainBase, IPlainGateGrain;

[Reentrant]
public sealed class ReentrantGateGrain : GateGrainBase, IReentrantGateGrain;
