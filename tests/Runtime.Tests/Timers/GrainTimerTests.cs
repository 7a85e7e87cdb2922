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
    public async Task Timer_AfterDeactivation_StopsTicking()
    {
        var grain = _cluster.GrainFactory.GetGrain<IAlarmGrain>("org/gone");
        await grain.StartTimerAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(1));
        await _probe.WaitForAsync("timer:org/gone:1");

        await _cluster.StopSiloAsync(_cluster.Silos[0]);
        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(0, _probe.Count("timer:org/gone:2"));
    }
}
