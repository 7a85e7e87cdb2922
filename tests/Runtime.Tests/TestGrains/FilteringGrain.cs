namespace Orchestration.Runtime.Tests.TestGrains;

public interface IFilteringGrain : IGrainWithStringKey
{
    Task<int> AddAsync(int a, int b);

    Task FailAsync(string message);

    /// <summary>Its filter does not invoke it.</summary>
    Task<int> SkippedAsync();
}

/// <summary>Filters its own calls, recording each before and after it runs.</summary>
public sealed class FilteringGrain(GrainProbe probe) : Grain, IFilteringGrain, IIncomingGrainCallFilter
{
    private int _calls;

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        probe.Record($"before:{context.MethodName}");
        if (context.MethodName.EndsWith(nameof(SkippedAsync), StringComparison.Ordinal))
        {
            return;
        }

        try
        {
            await context.Invoke();
            probe.Record($"after:{context.MethodName}:{_calls}");
        }
        catch (Exception exception)
        {
            probe.Record($"failed:{context.MethodName}:{exception.Message}");
            throw;
        }
    }

    public Task<int> AddAsync(int a, int b)
    {
        _calls++;
        return Task.FromResult(a + b);
    }

    public async Task FailAsync(string message)
    {
        await Task.Yield();
        throw new InvalidOperationException(message);
    }

    public Task<int> SkippedAsync() => Task.FromResult(42);
}
