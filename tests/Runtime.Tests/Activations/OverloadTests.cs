using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Activations;

/// <summary>An activation's queue is bounded: calls past the hard limit are rejected at once.</summary>
public sealed class OverloadTests : IAsyncLifetime
{
    private const int HardLimit = 50;

    private readonly GrainProbe _probe = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestClusterFactory.StartAsync(_probe, options: options =>
    {
        options.MaxEnqueuedRequestsSoftLimit = 20;
        options.MaxEnqueuedRequestsHardLimit = HardLimit;
    });

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Call_QueueAtTheHardLimit_IsRejectedAtOnceWithGrainOverloadedException()
    {
        var grain = _cluster.GrainFactory.GetGrain<IBlockingTimerGrain>("org/busy");
        var blocked = grain.BlockAsync();
        await _probe.WaitForAsync("blocked:org/busy");

        var calls = Enumerable.Range(0, HardLimit + 10).Select(_ => grain.PingAsync()).ToList();

        var rejected = calls.Where(call => call.IsFaulted).ToList();
        Assert.Equal(10, rejected.Count);
        Assert.Equal(calls.Skip(HardLimit), rejected);
        var exception = await Assert.ThrowsAsync<GrainOverloadedException>(() => rejected[0]);
        Assert.Equal(new GrainId("blockingtimer", "org/busy"), exception.GrainId);
        Assert.Contains("50", exception.Message, StringComparison.Ordinal);
        await grain.OpenGateAsync();
        await blocked;
        await Task.WhenAll(calls.Take(HardLimit));
        await grain.PingAsync();
    }

    [Fact]
    public void Options_SoftLimitAboveHardLimit_AreRejected()
    {
        var options = new SiloOptions { MaxEnqueuedRequestsSoftLimit = 100, MaxEnqueuedRequestsHardLimit = 10 };

        Assert.Contains(options.Validate(), error => error.Contains("MaxEnqueuedRequestsSoftLimit", StringComparison.Ordinal));
    }
}
