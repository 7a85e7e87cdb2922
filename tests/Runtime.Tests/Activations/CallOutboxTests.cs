using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Activations;

/// <summary>Each call has its own outbox, also when calls of one activation interleave.</summary>
public sealed class CallOutboxTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestClusterFactory.StartAsync(_probe);

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
}
