using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Calls;

/// <summary>A grain that implements <see cref="IIncomingGrainCallFilter"/> runs each of its calls through it.</summary>
public sealed class IncomingCallFilterTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestClusterFactory.StartAsync(_probe);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private IFilteringGrain Grain => _cluster.GrainFactory.GetGrain<IFilteringGrain>("org/filtered");

    [Fact]
    public async Task Call_ThroughTheFilter_CallerGetsTheMethodsResultAndTheFilterSeesBothSides()
    {
        Assert.Equal(5, await Grain.AddAsync(2, 3));

        Assert.Equal(["before:IFilteringGrain.AddAsync", "after:IFilteringGrain.AddAsync:1"], _probe.Events);
    }

    [Fact]
    public async Task Call_MethodFails_TheFilterSeesTheFailureAndTheCallerGetsIt()
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => Grain.FailAsync("boom"));

        Assert.Equal("boom", failure.Message);
        Assert.Equal(["before:IFilteringGrain.FailAsync", "failed:IFilteringGrain.FailAsync:boom"], _probe.Events);
    }

    [Fact]
    public async Task Call_FilterNeverInvokesTheMethod_TheCallFailsAndTheGrainStaysUsable()
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => Grain.SkippedAsync());

        Assert.Contains("did not invoke", failure.Message, StringComparison.Ordinal);
        Assert.Equal(7, await Grain.AddAsync(3, 4));
    }
}
