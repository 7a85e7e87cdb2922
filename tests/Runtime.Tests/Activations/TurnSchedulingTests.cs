using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Activations;

public sealed class TurnSchedulingTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestClusterFactory.StartAsync(_probe);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Call_HundredConcurrentCallers_RunOneAtATimeWithoutLostUpdates()
    {
        var counter = _cluster.GrainFactory.GetGrain<ICounterGrain>("turns");
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var callers = Enumerable.Range(0, 100).Select(_ => Task.Run(async () =>
        {
            await start.Task;
            return await counter.IncrementAsync();
        })).ToList();

        start.SetResult();
        var results = await Task.WhenAll(callers);

        Assert.Equal(Enumerable.Range(1, 100), results.Order());
        Assert.Equal(1, await counter.GetMaxConcurrencyAsync());
    }

    [Fact]
    public async Task Call_SentWithoutAwaiting_RunsInSendOrder()
    {
        var counter = _cluster.GrainFactory.GetGrain<ICounterGrain>("order");

        await Task.WhenAll(Enumerable.Range(0, 500).Select(counter.AppendAsync).ToList());

        Assert.Equal(Enumerable.Range(0, 500), await counter.GetAppendedAsync());
    }

    [Fact]
    public async Task Call_ManyGrains_EachGetsOneActivation()
    {
        var calls = Enumerable.Range(0, 50).SelectMany(i => Enumerable.Range(0, 4).Select(_ =>
            _cluster.GrainFactory.GetGrain<ICounterGrain>($"many-{i}").GetActivationIdAsync()));

        var activationIds = await Task.WhenAll(calls);

        Assert.Equal(50, activationIds.Distinct().Count());
        Assert.Equal(50, Enumerable.Range(0, 50).Count(i => _probe.Count($"activate:many-{i}") == 1));
    }

    [Fact]
    public async Task GetGrain_UnknownInterface_ThrowsNamingIt()
    {
        var exception = Assert.Throws<ArgumentException>(() => _cluster.GrainFactory.GetGrain<IUnregisteredGrain>("x"));

        Assert.Contains(nameof(IUnregisteredGrain), exception.Message);
        await Task.CompletedTask;
    }

    [Fact]
    public void GetGrain_EmptyKey_Throws() =>
        Assert.Throws<ArgumentException>(() => _cluster.GrainFactory.GetGrain<ICounterGrain>(string.Empty));

    public interface IUnregisteredGrain : IGrainWithStringKey
    {
        Task PingAsync();
    }
}
