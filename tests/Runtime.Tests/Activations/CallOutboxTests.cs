using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.Persistence;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Activations;

/// <summary>Each call has its own outbox, also when calls of one activation interleave.</summary>
public sealed class CallOutboxTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var storage = new GatedStorage { Committed = _ => _probe.Signal("outbox-committed").TrySetResult() };
        storage.Open();
        _cluster = await TestClusterFactory.StartAsync(_probe, builder => builder.UseStorageInstance(storage));
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task InterleavedCalls_OneFailsAfterRaising_OnlyTheOtherCallsEventIsPublished()
    {
        var grain = _cluster.GrainFactory.GetGrain<IOutboxGrain>("org/outbox");
        var failing = grain.RaiseWaitThenFailAsync("from the failing call");
        await grain.WaitUntilSomeoneWaitsAsync();

        await grain.RaiseAsync("from the succeeding call");
        await grain.OpenGateAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => failing);
        await grain.RaiseAsync("marker");

        var log = _cluster.Silos[0].Services.GetRequiredService<IStreamLog>();
        var texts = new List<string>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await foreach (var streamEvent in log.FollowAsync(0, "outbox", cancellationToken: stop.Token))
        {
            texts.Add(System.Text.Json.JsonDocument.Parse(streamEvent.Data).RootElement.GetProperty("text").GetString()!);
            if (texts[^1] == "marker")
            {
                break;
            }
        }

        Assert.Equal(["from the succeeding call", "marker"], texts);
    }

    [Fact]
    public async Task Call_WorkItLeftRunningRaisesWhileTheCallCommits_EveryEventIsPublished()
    {
        await _cluster.GrainFactory.GetGrain<IEdgeCaseGrain>("org/left-running").RaiseAndLeaveWorkRunningAsync();
        await _probe.WaitForAsync("left-work-raised:org/left-running"); // its OnNextAsync completed: durable or lost

        var stored = await _cluster.Silos[0].Runtime.Storage.ReadEventsAsync(0, 100, CancellationToken.None);
        var texts = stored.Where(streamEvent => streamEvent.StreamId.Namespace == "outbox")
            .Select(streamEvent => System.Text.Json.JsonDocument.Parse(streamEvent.Data).RootElement.GetProperty("text").GetString()!);
        Assert.Equal(["from the call", "from the work it left"], texts.Order());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Call_WorkItLeftRunningRaisesRightAfterTheCallsLastCommit_TheEventIsPublished(int yields)
    {
        // The work resumes on the activation's scheduler as the call's outbox commit returns, ahead of the call's own
        // continuation; some number of yields lands its raise between the call's last look at its outbox and its end.
        var key = $"org/after-commit-{yields}";
        await _cluster.GrainFactory.GetGrain<IEdgeCaseGrain>(key).RaiseAndRaiseAgainAfterTheCommitAsync(yields);
        await _probe.WaitForAsync($"left-work-raised:{key}"); // its OnNextAsync completed: durable or lost

        var stored = await _cluster.Silos[0].Runtime.Storage.ReadEventsAsync(0, 100, CancellationToken.None);
        var texts = stored.Where(streamEvent => streamEvent.StreamId.Namespace == "outbox")
            .Select(streamEvent => System.Text.Json.JsonDocument.Parse(streamEvent.Data).RootElement.GetProperty("text").GetString()!);
        Assert.Equal(["from the call", "from the work it left"], texts.Order());
    }
}
