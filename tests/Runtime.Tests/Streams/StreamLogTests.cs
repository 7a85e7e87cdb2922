using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Streams;

/// <summary>What one process's stream log publishes while its own commits are slow or stuck.</summary>
public sealed class StreamLogTests
{
    [Fact]
    public async Task Publish_LocalCommitStuck_OtherProcessesEventsStillPublishedOnceInOrder()
    {
        var shared = new MemoryGrainStorage();
        var storage = new StuckCommitStorage(shared);
        // Polls are five minutes apart: only hints can explain timely delivery.
        await using var local = await TestClusterFactory.StartAsync(new GrainProbe(), builder => builder.UseStorageInstance(storage),
            options: options => options.EventPollInterval = TimeSpan.FromMinutes(5));
        await using var remote = await TestClusterFactory.StartAsync(new GrainProbe(), builder => builder.UseStorageInstance(shared),
            options: options => options.EventPollInterval = TimeSpan.FromMinutes(5));
        var log = local.Silos[0].Runtime.StreamLog;
        var published = log.Subscribe(streamNamespace: null);
        try
        {
            storage.HoldNextCommit();
            var localWrite = Stream(local, "local").OnNextAsync("local-1");
            await storage.CommitHeld.WaitAsync(TimeSpan.FromSeconds(20));
            for (var i = 1; i <= 3; i++)
            {
                await Stream(remote, "remote").OnNextAsync($"remote-{i}");
            }

            var seen = await ReadAsync(published.Reader, 4);

            Assert.Equal([1L, 2, 3, 4], seen.Select(e => e.Sequence));
            Assert.Equal(["\"local-1\"", "\"remote-1\"", "\"remote-2\"", "\"remote-3\""], seen.Select(e => e.Data));
            Assert.False(localWrite.IsCompleted);

            storage.Release();
            await localWrite;
            await Stream(local, "local").OnNextAsync("local-2");
            var next = Assert.Single(await ReadAsync(published.Reader, 1));
            Assert.Equal(5, next.Sequence);
            Assert.False(published.Reader.TryRead(out _));
        }
        finally
        {
            storage.Release();
            log.Unsubscribe(published);
        }
    }

    private static IAsyncStream<string> Stream(TestCluster cluster, string key) =>
        cluster.Silos[0].Services.GetRequiredService<IStreamProvider>().GetStream<string>(new StreamId("stuck", key));

    private static async Task<List<StreamEvent>> ReadAsync(ChannelReader<StreamEvent> reader, int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var events = new List<StreamEvent>();
        while (events.Count < count)
        {
            events.Add(await reader.ReadAsync(timeout.Token));
        }

        return events;
    }

    /// <summary>Storage whose held commit reaches the database and then does not return until released.</summary>
    private sealed class StuckCommitStorage(IGrainStorage inner) : IGrainStorage
    {
        private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _holdNext;

        public Task CommitHeld => _held.Task;

        public string ProviderName => inner.ProviderName;

        public int MaxConcurrentCommits => inner.MaxConcurrentCommits;

        public void HoldNextCommit() => Volatile.Write(ref _holdNext, 1);

        public void Release() => _release.TrySetResult();

        public async Task CommitAsync(IReadOnlyList<StorageWrite> writes, CancellationToken cancellationToken)
        {
            await inner.CommitAsync(writes, cancellationToken);
            if (Interlocked.Exchange(ref _holdNext, 0) == 1)
            {
                _held.TrySetResult();
                await _release.Task;
            }
        }

        public Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);

        public Task<GrainStateRecord?> ReadStateAsync(GrainStateKey key, CancellationToken cancellationToken) => inner.ReadStateAsync(key, cancellationToken);

        public Task<IReadOnlyList<StreamEvent>> ReadEventsAsync(long afterSequence, int limit, CancellationToken cancellationToken) =>
            inner.ReadEventsAsync(afterSequence, limit, cancellationToken);

        public Task<IReadOnlyList<StreamEvent>> ReadTenantEventsAsync(string tenant, long afterSequence, int limit, CancellationToken cancellationToken) =>
            inner.ReadTenantEventsAsync(tenant, afterSequence, limit, cancellationToken);

        public Task<ProjectionPage> QueryProjectionsAsync(ProjectionQuery query, CancellationToken cancellationToken) =>
            inner.QueryProjectionsAsync(query, cancellationToken);

        public Task<ProjectionRow?> ReadProjectionAsync(string collection, string tenant, string id, CancellationToken cancellationToken) =>
            inner.ReadProjectionAsync(collection, tenant, id, cancellationToken);

        public Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken) => inner.ReadLastSequenceAsync(cancellationToken);

        public Task<IReadOnlyList<ReminderEntry>> ReadRemindersAsync(DateTimeOffset? dueBy, CancellationToken cancellationToken) => inner.ReadRemindersAsync(dueBy, cancellationToken);

        public Task<long> ReadCursorAsync(string subscriber, CancellationToken cancellationToken) => inner.ReadCursorAsync(subscriber, cancellationToken);

        public Task WriteCursorAsync(string subscriber, long sequence, CancellationToken cancellationToken) =>
            inner.WriteCursorAsync(subscriber, sequence, cancellationToken);

        public Task CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);

        public IAsyncDisposable WatchCommits(Action<long> onCommit) => inner.WatchCommits(onCommit);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
