using Orchestration.Testing;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Activations;

public sealed class ReentrancyTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestClusterFactory.StartAsync(_probe);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Reentrant_CallWaitingForAnother_InterleavesButNeverRunsInParallel()
    {
        var grain = _cluster.GrainFactory.GetGrain<IReentrantGateGrain>("reentrant");

        var waiting = Enumerable.Range(0, 20).Select(_ => grain.WaitForGateAsync()).ToList();
        await grain.OpenGateAsync();
        await Task.WhenAll(waiting);

        Assert.Equal(21, await grain.GetStartedCountAsync());
        Assert.Equal(1, await grain.GetMaxConcurrencyAsync());
    }

    [Fact]
    public async Task NonReentrant_CallBehindRunningCall_WaitsUntilItFinishes()
    {
        var grain = _cluster.GrainFactory.GetGrain<IPlainGateGrain>("plain");

        var waiting = grain.WaitForGateAsync();
        await Eventually.TrueAsync(async () => await grain.GetStartedCountAsync() == 1);
        var opening = grain.OpenGateAsync();

        // GetStartedCount is [AlwaysInterleave]: it answers while WaitForGate runs, and sees that OpenGate has not started.
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(1, await grain.GetStartedCountAsync());
        }

        Assert.False(opening.IsCompleted);
        Assert.False(waiting.IsCompleted);
        await grain.OpenGateInterleavedAsync();
        await Task.WhenAll(waiting, opening);
        Assert.Equal(3, await grain.GetStartedCountAsync());
    }

    [Fact]
    public async Task AlwaysInterleave_ReadWhileWriterRuns_AnswersImmediately()
    {
        var grain = _cluster.GrainFactory.GetGrain<IPlainGateGrain>("interleave");

        var waiting = grain.WaitForGateAsync();
        await Eventually.TrueAsync(async () => await grain.GetStartedCountAsync() == 1);

        Assert.False(waiting.IsCompleted);
        await grain.OpenGateInterleavedAsync();
        await waiting;
        Assert.Equal(1, await grain.GetMaxConcurrencyAsync());
    }
}
