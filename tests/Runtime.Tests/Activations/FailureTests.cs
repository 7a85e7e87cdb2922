using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Activations;

public sealed class FailureTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private readonly ManualTimeProvider _time = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() =>
        _cluster = await TestClusterFactory.StartAsync(_probe, timeProvider: _time, options: options =>
        {
            options.ResponseTimeout = TimeSpan.FromSeconds(5);
            options.SweepInterval = TimeSpan.FromMilliseconds(500);
        });

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Call_GrainThrowsAfterAwait_CallerGetsSameTypeAndMessage()
    {
        var grain = _cluster.GrainFactory.GetGrain<IFaultyGrain>("throws");

        var exception = await Assert.ThrowsAsync<InvalidOperationException>(() => grain.ThrowAfterAwaitAsync("boom"));

        Assert.Equal("boom", exception.Message);
    }

    [Fact]
    public async Task Call_GrainThrowsSynchronously_CallerGetsSameTypeAndGrainStaysUsable()
    {
        var grain = _cluster.GrainFactory.GetGrain<IFaultyGrain>("throws-sync");

        var exception = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => grain.ThrowSynchronously("bad value"));

        Assert.Contains("bad value", exception.Message);
        Assert.Equal("still here", await grain.EchoAsync("still here"));
    }

    [Fact]
    public async Task Call_NotAnsweredWithinTimeout_FailsNamingGrainAndMethod()
    {
        var grain = _cluster.GrainFactory.GetGrain<IFaultyGrain>("hangs");
        var hanging = grain.HangAsync();
        var queuedBehind = grain.EchoAsync("never");

        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(hanging.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(2));

        var exception = await Assert.ThrowsAsync<GrainCallTimeoutException>(() => hanging);
        Assert.Contains("IFaultyGrain.HangAsync", exception.Message);
        Assert.Contains("faulty/hangs", exception.Message);
        await Assert.ThrowsAsync<GrainCallTimeoutException>(() => queuedBehind);
        await grain.ReleaseHangingAsync();
        Assert.Equal("answered", await grain.EchoAsync("answered"));
    }

    [Fact]
    public async Task Activation_OnActivateThrows_CallFailsWithThatException()
    {
        var grain = _cluster.GrainFactory.GetGrain<IFailingActivationGrain>("broken");

        var first = await Assert.ThrowsAsync<InvalidDataException>(() => grain.PingAsync());
        var second = await Assert.ThrowsAsync<InvalidDataException>(() => grain.PingAsync());

        Assert.Equal("cannot activate broken", first.Message);
        Assert.Equal(first.Message, second.Message);
    }
}
