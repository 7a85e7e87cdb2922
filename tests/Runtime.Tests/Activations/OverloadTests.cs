using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Activations;

/// <summary>
/// The calls an activation holds, running or waiting, are bounded: reaching the soft limit warns once, calls past the
/// hard limit are rejected at once.
/// </summary>
public sealed class OverloadTests : IAsyncLifetime
{
    private const int HardLimit = 50;

    private const int SoftLimit = 20;

    private readonly GrainProbe _probe = new();
    private readonly CapturedLog _warnings = new(LogLevel.Warning);
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestClusterFactory.StartAsync(
        _probe,
        options: options =>
        {
            options.MaxEnqueuedRequestsSoftLimit = SoftLimit;
            options.MaxEnqueuedRequestsHardLimit = HardLimit;
        },
        loggerFactory: _warnings);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Call_ActivationHoldingTheHardLimit_IsRejectedAtOnceWithGrainOverloadedException()
    {
        var grain = _cluster.GrainFactory.GetGrain<IBlockingTimerGrain>("org/busy");
        var blocked = grain.BlockAsync();
        await _probe.WaitForAsync("blocked:org/busy");

        // The running call counts as the queued ones do.
        var calls = Enumerable.Range(0, HardLimit - 1 + 10).Select(_ => grain.PingAsync()).ToList();

        var rejected = calls.Where(call => call.IsFaulted).ToList();
        Assert.Equal(10, rejected.Count);
        Assert.Equal(calls.Skip(HardLimit - 1), rejected);
        var exception = await Assert.ThrowsAsync<GrainOverloadedException>(() => rejected[0]);
        Assert.Equal(new GrainId("blockingtimer", "org/busy"), exception.GrainId);
        Assert.Contains("50", exception.Message, StringComparison.Ordinal);
        await grain.OpenGateAsync();
        await blocked;
        await Task.WhenAll(calls.Take(HardLimit - 1));
        await grain.PingAsync();
    }

    [Fact]
    public async Task Call_ActivationReachesTheSoftLimit_WarnsOnceNamingTheGrain()
    {
        var grain = _cluster.GrainFactory.GetGrain<IBlockingTimerGrain>("org/crowded");
        var blocked = grain.BlockAsync();
        await _probe.WaitForAsync("blocked:org/crowded");

        var calls = Enumerable.Range(0, SoftLimit - 2).Select(_ => grain.PingAsync()).ToList(); // and the running one
        Assert.Empty(_warnings.Messages);
        calls.Add(grain.PingAsync()); // the soft limit's call
        var warning = Assert.Single(_warnings.Messages);
        calls.AddRange(Enumerable.Range(0, 5).Select(_ => grain.PingAsync()));

        Assert.Single(_warnings.Messages); // once while over, not once per call
        Assert.Contains("org/crowded", warning, StringComparison.Ordinal);
        Assert.Contains($"soft limit {SoftLimit}", warning, StringComparison.Ordinal);
        Assert.DoesNotContain(calls, call => call.IsFaulted); // a warning, not a rejection
        await grain.OpenGateAsync();
        await blocked;
        await Task.WhenAll(calls);
    }

    [Fact]
    public async Task Call_ReentrantGrainRunningTheHardLimit_IsRejectedAtOnce()
    {
        // The shape of a long-poll: every call of a reentrant grain runs at once and then waits, so none is ever queued.
        var grain = _cluster.GrainFactory.GetGrain<IReentrantHoldGrain>("org/long-polls");
        var held = Enumerable.Range(0, HardLimit).Select(_ => grain.HoldAsync()).ToList();
        await Eventually.TrueAsync(() => Task.FromResult(_probe.Count("holding:org/long-polls") == HardLimit), "a reentrant grain runs every call at once");

        var extra = Enumerable.Range(0, 10).Select(_ => grain.HoldAsync()).ToList();

        Assert.All(extra, call => Assert.True(call.IsFaulted, "a call past the hard limit is rejected at once"));
        var exception = await Assert.ThrowsAsync<GrainOverloadedException>(() => extra[0]);
        Assert.Equal(HardLimit, exception.Queued);
        await grain.PingAsync(); // an interleaving call is counted apart: held calls do not lock it out
        Assert.DoesNotContain(held, call => call.IsCompleted);
        _probe.Record("open:org/long-polls");
        await Task.WhenAll(held);
        await grain.HoldAsync(); // room again, and the gate stays open
    }

    [Fact]
    public async Task Call_InterleavingCallsRunningTheHardLimit_AreRejectedAtOnce()
    {
        var grain = _cluster.GrainFactory.GetGrain<IInterleavedHoldGrain>("org/interleaved");
        var held = Enumerable.Range(0, HardLimit).Select(_ => grain.HoldAsync()).ToList();
        await Eventually.TrueAsync(() => Task.FromResult(_probe.Count("holding:org/interleaved") == HardLimit), "interleaving calls run at once");

        var extra = Enumerable.Range(0, 10).Select(_ => grain.HoldAsync()).ToList();
        var ping = grain.PingAsync(); // counted apart; it starts once the interleaving calls have ended

        Assert.All(extra, call => Assert.True(call.IsFaulted, "a call past the hard limit is rejected at once"));
        await Assert.ThrowsAsync<GrainOverloadedException>(() => extra[0]);
        Assert.False(ping.IsCompleted);
        _probe.Record("open:org/interleaved");
        await Task.WhenAll(held);
        await ping;
        await grain.HoldAsync();
    }

    [Fact]
    public void Options_SoftLimitAboveHardLimit_AreRejected()
    {
        var options = new SiloOptions { MaxEnqueuedRequestsSoftLimit = 100, MaxEnqueuedRequestsHardLimit = 10 };

        Assert.Contains(options.Validate(), error => error.Contains("MaxEnqueuedRequestsSoftLimit", StringComparison.Ordinal));
    }
}
