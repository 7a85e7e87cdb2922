using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Timers;

/// <summary>Timer ticks that meet a busy or a departing activation.</summary>
public sealed class TimerDeliveryTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero).AddTicks(1_234_567));
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() =>
        _cluster = await TestClusterFactory.StartAsync(_probe, timeProvider: _time, options: options => options.ResponseTimeout = TimeSpan.FromSeconds(5));

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task PeriodicTimer_TickWaitedPastTheResponseTimeout_KeepsFiringAfterwards()
    {
        var grain = _cluster.GrainFactory.GetGrain<IBlockingTimerGrain>("org/slow");
        await grain.StartTimerAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        var blocked = grain.BlockAsync();
        await _probe.WaitForAsync("blocked:org/slow");

        _time.Advance(TimeSpan.FromSeconds(1));
        await Eventually.TrueAsync(() => Task.FromResult(Activation("org/slow").QueuedCount == 1), "the tick waits behind the blocked call");
        _time.Advance(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAsync<GrainCallTimeoutException>(() => blocked);
        await grain.OpenGateAsync();
        await _probe.WaitForAsync("tick:org/slow:1");

        // A call after each tick: the tick's turn, and the timer's re-arming (a period after its callback ends), are over
        // before the clock moves; otherwise the next due time could be set after the move and never come (seen in CI).
        await grain.PingAsync();
        _time.Advance(TimeSpan.FromSeconds(1));
        await _probe.WaitForAsync("tick:org/slow:2");
        await grain.PingAsync();
        _time.Advance(TimeSpan.FromSeconds(1));
        await _probe.WaitForAsync("tick:org/slow:3");
    }

    [Fact]
    public async Task TimerTick_QueuedOnADeactivatingActivation_IsDroppedNotHandedToTheNextActivation()
    {
        var grain = _cluster.GrainFactory.GetGrain<IBlockingTimerGrain>("org/leaving");
        await grain.StartTimerAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        var blocked = grain.BlockAsync();
        await _probe.WaitForAsync("blocked:org/leaving");
        _time.Advance(TimeSpan.FromSeconds(1));
        var activation = Activation("org/leaving");
        await Eventually.TrueAsync(() => Task.FromResult(activation.QueuedCount == 1), "the tick waits behind the blocked call");

        activation.RequestDeactivation(DeactivationReason.ApplicationRequested);
        _probe.Record("open:org/leaving"); // no call starts on an activation waiting to deactivate, not even an interleaving one
        await blocked;
        await _probe.WaitForAsync("deactivated:org/leaving");
        await grain.PingAsync(); // a new activation; a re-delivered tick would have run before this call

        Assert.Equal(0, _probe.Count("stale-tick:org/leaving"));
        Assert.Equal(0, _probe.Count("tick:org/leaving:1"));
        Assert.NotSame(activation, Activation("org/leaving"));
    }

    [Fact]
    public async Task Timer_ChangedInsideItsOwnCallback_KeepsTheNewSchedule()
    {
        var grain = _cluster.GrainFactory.GetGrain<IEdgeCaseGrain>("org/reschedule");
        await grain.StartSelfReschedulingTimerAsync();
        _time.Advance(TimeSpan.FromSeconds(1));
        await _probe.WaitForAsync("edge-tick:1");
        await grain.CountItemsAsync(); // the tick's turn, and its re-arming, are over

        _time.Advance(TimeSpan.FromSeconds(2));
        await grain.CountItemsAsync(); // a tick due in those 2 s would have been queued before this call

        Assert.Equal(0, _probe.Count("edge-tick:2"));
        _time.Advance(TimeSpan.FromSeconds(98));
        await _probe.WaitForAsync("edge-tick:2");
    }

    private Runtime.Activations.ActivationData Activation(string key) =>
        _cluster.Silos[0].Runtime.Directory.All.Single(activation => activation.GrainId.Key == key);
}
