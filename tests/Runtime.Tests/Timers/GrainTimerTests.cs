using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Timers;

public sealed class GrainTimerTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private readonly ManualTimeProvider _time = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestClusterFactory.StartAsync(_probe, timeProvider: _time);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Timer_EachPeriod_TicksAsATurnOfItsOwn()
    {
        var grain = _cluster.GrainFactory.GetGrain<IAlarmGrain>("org/timer");
        await grain.StartTimerAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));

        _time.Advance(TimeSpan.FromSeconds(1));
        await _probe.WaitForAsync("timer:org/timer:1");
        Assert.Equal(1, await grain.GetTimerTicksAsync());
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(1, await grain.GetTimerTicksAsync());
        _time.Advance(TimeSpan.FromSeconds(1));
        await _probe.WaitForAsync("timer:org/timer:2");

        Assert.Equal(2, await grain.GetTimerTicksAsync());
    }

    [Fact]
    public async Task Timer_ChangedDuringAnInterleavingTick_NextTickWaitsForTheRunningOne()
    {
        var grain = _cluster.GrainFactory.GetGrain<IGatedTickGrain>("org/gated");
        await grain.StartTimerAsync();
        _time.Advance(TimeSpan.FromSeconds(1));
        await _probe.WaitForAsync("gated-tick:org/gated:1"); // it has asked for the next tick at once and waits

        _time.Advance(TimeSpan.FromSeconds(1));
        await grain.PingAsync(); // a tick queued by that move would have started before this call
        _time.Advance(TimeSpan.FromSeconds(1));
        await grain.PingAsync();

        Assert.Equal(0, _probe.Count("gated-tick:org/gated:2"));
        _probe.Record("open:org/gated");
        // The next tick is armed once the first has ended, on another thread: keep moving the clock a little.
        await Eventually.TrueAsync(() =>
        {
            _time.Advance(TimeSpan.FromMilliseconds(1));
            return Task.FromResult(_probe.Count("gated-tick:org/gated:2") == 1);
        }, "the changed schedule's tick runs once the first tick has ended");
    }

    [Fact]
    public async Task Timer_AfterDeactivation_StopsTicking()
    {
        var grain = _cluster.GrainFactory.GetGrain<IBlockingTimerGrain>("org/gone");
        await grain.StartTimerAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(1));
        await _probe.WaitForAsync("tick:org/gone:1");

        _cluster.Silos[0].Runtime.Directory.All.Single(activation => activation.GrainId.Key == "org/gone")
            .RequestDeactivation(DeactivationReason.ApplicationRequested);
        await _probe.WaitForAsync("deactivated:org/gone");
        _time.Advance(TimeSpan.FromSeconds(10));
        await grain.PingAsync(); // a new activation: a tick sent to the old one would have run before this call

        Assert.Equal(0, _probe.Count("tick:org/gone:2"));
        Assert.Equal(0, _probe.Count("stale-tick:org/gone"));
    }
}
