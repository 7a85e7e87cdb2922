using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Activations;

/// <summary>One activation runs one piece of grain code at a time, and never holds its lock while grain code runs.</summary>
public sealed class ActivationSchedulingTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() =>
        _cluster = await TestClusterFactory.StartAsync(_probe, options: options => options.SweepInterval = TimeSpan.FromMilliseconds(100));

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Activate_PairsCallingEachOtherFromOnActivate_EveryCallCompletes()
    {
        // More threads than cores make both sides of a pair activate truly at once, which is what deadlocked when
        // activation ran grain code under the activation's lock.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(16, io);
        try
        {
            const int Pairs = 500;
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var calls = Enumerable.Range(0, Pairs).SelectMany(i => new[] { $"pair-{i}/a", $"pair-{i}/b" }).Select(key => Task.Run(async () =>
            {
                await start.Task;
                await _cluster.GrainFactory.GetGrain<IPeerGrain>(key).PingAsync("test");
            })).ToList();

            start.SetResult();
            await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(10));
            var pings = Enumerable.Range(0, Pairs).SelectMany(i => new[]
            {
                _probe.WaitForAsync($"ping:pair-{i}/a:pair-{i}/b"),
                _probe.WaitForAsync($"ping:pair-{i}/b:pair-{i}/a"),
            });
            await Task.WhenAll(pings).WaitAsync(TimeSpan.FromSeconds(10));

            Assert.Equal(Pairs * 2, _probe.Events.Count(entry => entry.StartsWith("ping:pair-", StringComparison.Ordinal) && !entry.EndsWith(":test", StringComparison.Ordinal)));

            // The sweeper takes each activation's lock in turn: had a walk blocked behind an activation of the storm, it
            // would still be stuck in that walk and none would finish from here on.
            var walks = _cluster.Silos[0].Runtime.Collector.CompletedWalks;
            await Eventually.TrueAsync(
                () => Task.FromResult(_cluster.Silos[0].Runtime.Collector.CompletedWalks >= walks + 3),
                "the sweeper finishes walks after the activation storm");
        }
        finally
        {
            ThreadPool.SetMinThreads(workers, io);
        }
    }

    [Fact]
    public async Task Call_InterleavingTimerWhileCallYields_NeverRunsInParallel()
    {
        var grain = _cluster.GrainFactory.GetGrain<IConcurrencyProbeGrain>("timer-probe");

        var ticks = await grain.RunWithInterleavingTimerAsync(yields: 2_000);

        Assert.True(ticks >= 3, $"the timer interleaved {ticks} times");
        Assert.Equal(1, await grain.GetMaxConcurrencyAsync());
    }

    [Fact]
    public async Task Call_FireAndForgetContinuationsWhileOtherCallsRun_NeverRunInParallel()
    {
        var grain = _cluster.GrainFactory.GetGrain<IConcurrencyProbeGrain>("background-probe");

        await grain.StartFireAndForgetAsync(yields: 500);
        for (var i = 0; i < 200; i++)
        {
            await Task.WhenAll(grain.TouchAsync(), grain.TouchAsync(), grain.TouchAsync());
        }

        await grain.WaitForBackgroundAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(1, await grain.GetMaxConcurrencyAsync());
    }

    [Fact]
    public async Task Call_GrainCode_RunsOnTheActivationsTaskScheduler()
    {
        var grain = _cluster.GrainFactory.GetGrain<ISchedulerProbeGrain>("scheduler");

        var (beforeAwait, afterAwait, startedTask) = await grain.GetSchedulersAsync();

        Assert.NotEqual(nameof(TaskScheduler.Default), beforeAwait);
        Assert.Equal(beforeAwait, afterAwait);
        Assert.Equal(beforeAwait, startedTask);
    }
}
