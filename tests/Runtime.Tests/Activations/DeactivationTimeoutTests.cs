using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Activations;

/// <summary>A grain whose OnDeactivateAsync hangs cannot keep its activation, or its calls, for ever.</summary>
public sealed class DeactivationTimeoutTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private readonly ManualTimeProvider _time = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestClusterFactory.StartAsync(
        _probe, timeProvider: _time, options: options => options.DeactivationTimeout = TimeSpan.FromSeconds(5));

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Deactivate_OnDeactivateHangs_ActivationIsDiscardedAfterTheTimeoutAndCallsGoOn()
    {
        var grain = _cluster.GrainFactory.GetGrain<IStubbornGrain>("org/stubborn");
        var first = await grain.GetActivationIdAsync();
        await grain.LeaveAsync();
        await _probe.WaitForAsync("deactivating:org/stubborn");
        var waiting = grain.GetActivationIdAsync();

        _time.Advance(TimeSpan.FromSeconds(6));

        var second = await waiting.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.NotEqual(first, second);
    }
}
