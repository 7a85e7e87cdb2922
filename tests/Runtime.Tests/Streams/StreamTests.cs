using Orchestration.Testing;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Streams;

public sealed class StreamTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private TestCluster _cluster = null!;

    private IStreamLog Log => _cluster.Silos[0].Services.GetRequiredService<IStreamLog>();

    public async Task InitializeAsync() => _cluster = await TestClusterFactory.StartAsync(_probe);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task FollowAsync_FromASequence_YieldsHistoryThenLiveInOrderWithoutGapsOrRepeats()
    {
        var grain = _cluster.GrainFactory.GetGrain<IProfileGrain>("org/follow");
        for (var i = 1; i <= 5; i++)
        {
            await grain.RenameAsync($"v{i}");
        }

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<StreamEvent>();
        var following = Task.Run(async () =>
        {
            await foreach (var streamEvent in Log.FollowAsync(2, "profiles", cancellationToken: stop.Token))
            {
                seen.Add(streamEvent);
                if (seen.Count == 8)
                {
                    return;
                }
            }
        });
        for (var i = 6; i <= 10; i++)
        {
            await grain.RenameAsync($"v{i}");
        }

        await following;

        Assert.Equal(Enumerable.Range(3, 8).Select(i => (long)i), seen.Select(e => e.Sequence));
        Assert.Contains("v3", seen[0].Data);
        Assert.Contains("v10", seen[^1].Data);
    }

    [Fact]
    public async Task FollowAsync_NamespaceFilter_SkipsOtherNamespaces()
    {
        var streams = _cluster.Silos[0].Services.GetRequiredService<IStreamProvider>();
        await streams.GetStream<string>(new StreamId("noise", "k")).OnNextAsync("ignored");
        await _cluster.GrainFactory.GetGrain<IProfileGrain>("org/filter").RenameAsync("kept");

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var follower = Log.FollowAsync(0, "profiles", cancellationToken: stop.Token).GetAsyncEnumerator(stop.Token);

        Assert.True(await follower.MoveNextAsync());
        Assert.Equal(2, follower.Current.Sequence);
        Assert.Equal("profiles", follower.Current.StreamId.Namespace);
    }

    [Fact]
    public async Task FollowUntilBehindAsync_ConsumerFallsBehindItsBuffer_EndsAfterWhatItWasGivenAndResumesWithoutLoss()
    {
        var stream = _cluster.Silos[0].Services.GetRequiredService<IStreamProvider>().GetStream<int>(new StreamId("behind", "k"));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var start = Log.LastSequence;
        await using var follower = Log.FollowUntilBehindAsync(start, "behind", null, liveBufferSize: 4, stop.Token).GetAsyncEnumerator(stop.Token);
        var first = follower.MoveNextAsync();
        await stream.OnNextAsync(1);
        Assert.True(await first);
        var given = follower.Current.Select(e => e.Sequence).ToList();

        // The consumer stalls while ten more commit and are published: four fit its buffer, the fifth overflows it.
        for (var i = 2; i <= 11; i++)
        {
            await stream.OnNextAsync(i);
        }

        var committed = (await Log.ReadAsync(start, 100)).Where(e => e.StreamId.Namespace == "behind").Select(e => e.Sequence).ToList();
        Assert.Equal(11, committed.Count);
        while (Log.LastSequence < committed[^1])
        {
            await Task.Delay(5, stop.Token);
        }

        while (await follower.MoveNextAsync())
        {
            given.AddRange(follower.Current.Select(e => e.Sequence));
        }

        Assert.Equal(committed[..5], given);
        var resumed = new List<long>();
        await foreach (var batch in Log.FollowUntilBehindAsync(given[^1], "behind", null, liveBufferSize: 4, stop.Token))
        {
            resumed.AddRange(batch.Select(e => e.Sequence));
            if (resumed.Count >= 6)
            {
                break;
            }
        }

        Assert.Equal(committed[5..], resumed);
    }

    [Fact]
    public async Task ReadAsync_AfterAndLimit_ReturnsThatPage()
    {
        var streams = _cluster.Silos[0].Services.GetRequiredService<IStreamProvider>();
        var stream = streams.GetStream<int>(new StreamId("numbers", "k"));
        for (var i = 1; i <= 6; i++)
        {
            await stream.OnNextAsync(i);
        }

        var page = await Log.ReadAsync(2, 3);

        Assert.Equal(["3", "4", "5"], page.Select(e => e.Data));
        await Eventually.TrueAsync(() => Task.FromResult(Log.LastSequence == 6));
    }

    [Fact]
    public async Task ImplicitSubscription_EventsOnAStream_DeliveredToTheGrainWithThatKeyInOrder()
    {
        var profile = _cluster.GrainFactory.GetGrain<IProfileGrain>("org/audited");
        var other = _cluster.GrainFactory.GetGrain<IProfileGrain>("org/other");
        await profile.RenameAsync("one");
        await other.RenameAsync("elsewhere");
        await profile.RenameAsync("two");

        await _probe.WaitForAsync("audit:org/audited:3");
        await _probe.WaitForAsync("audit:org/other:2");

        Assert.Equal([1L, 3], await _cluster.GrainFactory.GetGrain<IProfileAuditGrain>("org/audited").GetSeenSequencesAsync());
        Assert.Equal([2L], await _cluster.GrainFactory.GetGrain<IProfileAuditGrain>("org/other").GetSeenSequencesAsync());
    }

    [Fact]
    public async Task ImplicitSubscription_AfterRestart_ResumesFromItsCursorWithoutMissingEvents()
    {
        var profile = _cluster.GrainFactory.GetGrain<IProfileGrain>("org/resume");
        await profile.RenameAsync("before");
        await _probe.WaitForAsync("audit:org/resume:1");
        await Eventually.TrueAsync(async () => await _cluster.Silos[0].Runtime.Storage.ReadCursorAsync("implicit/profileaudit/profiles", CancellationToken.None) == 1);

        var silo = await _cluster.RestartSiloAsync(_cluster.Silos[0]);
        await silo.GrainFactory.GetGrain<IProfileGrain>("org/resume").RenameAsync("after");
        await _probe.WaitForAsync("audit:org/resume:2");

        Assert.Equal([2L], await silo.GrainFactory.GetGrain<IProfileAuditGrain>("org/resume").GetSeenSequencesAsync());
        Assert.Equal(1, _probe.Count("audit:org/resume:1"));
    }
}
