namespace Orchestration.Runtime.Tests.TestGrains;

public interface IInterleavedHoldGrain : IGrainWithStringKey
{
    /// <summary>Runs until the probe records <c>open:{key}</c>; records <c>holding:{key}</c> on entry.</summary>
    [AlwaysInterleave]
    Task HoldAsync();

    Task PingAsync();
}

/// <summary>Not reentrant, but its held calls interleave: they all run at once, none waits in a queue.</summary>
public sealed class InterleavedHoldGrain(GrainProbe probe) : Grain, IInterleavedHoldGrain
{
    public async Task HoldAsync()
    {
        probe.Record($"holding:{GetPrimaryKeyString()}");
        await probe.WaitForAsync($"open:{GetPrimaryKeyString()}");
    }

    public Task PingAsync() => Task.CompletedTask;
}
