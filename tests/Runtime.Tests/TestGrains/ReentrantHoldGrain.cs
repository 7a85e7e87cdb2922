namespace Orchestration.Runtime.Tests.TestGrains;

public interface IReentrantHoldGrain : IGrainWithStringKey
{
    /// <summary>Runs until the probe records <c>open:{key}</c>, as a long-poll does; records <c>holding:{key}</c> on entry.</summary>
    Task HoldAsync();

    /// <summary>A short call counted apart from <see cref="HoldAsync"/> (an interleaving call has a limit of its own).</summary>
    [AlwaysInterleave]
    Task PingAsync();
}

/// <summary>Reentrant: every held call is running at once, so none of them waits in the activation's queue.</summary>
[Reentrant]
public sealed class ReentrantHoldGrain(GrainProbe probe) : Grain, IReentrantHoldGrain
{
    public async Task HoldAsync()
    {
        probe.Record($"holding:{GetPrimaryKeyString()}");
        await probe.WaitForAsync($"open:{GetPrimaryKeyString()}");
    }

    public Task PingAsync() => Task.CompletedTask;
}
