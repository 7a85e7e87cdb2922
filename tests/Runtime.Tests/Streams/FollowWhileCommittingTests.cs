using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Streams;

/// <summary>A follower that starts while this process still commits events (a call, then the work it left) misses none.</summary>
public sealed class FollowWhileCommittingTests
{
    [Theory]
    [MemberData(nameof(Rounds))]
    public async Task Follow_StartedWhileALocalCommitIsInFlight_SeesEveryEvent(int round)
    {
        var probe = new GrainProbe();
        await using var cluster = await TestClusterFactory.StartAsync(probe);
        var key = $"org/race-{round}";
        await cluster.GrainFactory.GetGrain<IEdgeCaseGrain>(key).RaiseAndLeaveWorkRunningAsync();

        var log = cluster.Silos[0].Services.GetRequiredService<IStreamLog>();
        var seen = new List<long>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var streamEvent in log.FollowAsync(0, "outbox", cancellationToken: stop.Token))
        {
            seen.Add(streamEvent.Sequence);
            if (seen.Count == 2)
            {
                break;
            }
        }

        Assert.Equal([1L, 2L], seen);
    }

    public static TheoryData<int> Rounds() => [.. Enumerable.Range(0, 10)];
}
