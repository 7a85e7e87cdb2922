using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Activations;

public sealed class ActivationLifecycleTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private readonly ManualTimeProvider _time = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() =>
        _cluster = await TestClusterFactory.StartAsync(_probe, timeProvider: _time, options: options =>
        {
            options.IdleCollectionAge = TimeSpan.FromMinutes(10);
            options.SweepInterval = TimeSpan.FromSeconds(30);
        });

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task DeactivateOnIdle_AfterCall_NextCallGetsFreshActivation()
    {
        var grain = _cluster.GrainFactory.GetGrain<ICounterGrain>("cycle");
        var firstId = await grain.GetActivationIdAsync();

        await grain.DeactivateAsync();
        await _probe.WaitForAsync("deactivate:cycle:ApplicationRequested");
        var secondId = await grain.GetActivationIdAsync();

        Assert.NotEqual(firstId, secondId);
        Assert.Equal(2, _probe.Count("activate:cycle"));
    }

    [Fact]
    public async Task IdleCollection_IdleLongerThanAge_DeactivatesOnlyIdleGrains()
    {
        var idle = _cluster.GrainFactory.GetGrain<ICounterGrain>("idle");
        var busy = _cluster.GrainFactory.GetGrain<ICounterGrain>("busy");
        await idle.IncrementAsync();
        await busy.IncrementAsync();

        _time.Advance(TimeSpan.FromMinutes(6));
        await busy.IncrementAsync();
        _time.Advance(TimeSpan.FromMinutes(6));
        await _probe.WaitForAsync("deactivate:idle:IdleCollection");

        await Eventually.TrueAsync(() => Task.FromResult(_cluster.Silos[0].ActivationCount == 1));
        Assert.Equal(0, _probe.Count("deactivate:busy:IdleCollection"));
        Assert.Equal(1, await idle.IncrementAsync()); // state was in memory only, so a fresh activation starts over
    }

    [Fact]
    public async Task Shutdown_StopsSilo_DeactivatesEveryGrain()
    {
        await _cluster.GrainFactory.GetGrain<ICounterGrain>("a").IncrementAsync();
        await _cluster.GrainFactory.GetGrain<ICounterGrain>("b").IncrementAsync();

        await _cluster.StopSiloAsync(_cluster.Silos[0]);

        Assert.Equal(1, _probe.Count("deactivate:a:ShuttingDown"));
        Assert.Equal(1, _probe.Count("deactivate:b:ShuttingDown"));
        Assert.Equal(0, _cluster.Silos[0].ActivationCount);
    }
}
