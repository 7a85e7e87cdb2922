using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Streams;

namespace Orchestration.Runtime.Tests.Persistence;

public sealed class WriteBatcherTests : IAsyncLifetime
{
    private readonly GatedStorage _storage = new();
    private StreamLog _streamLog = null!;
    private WriteBatcher _batcher = null!;

    public async Task InitializeAsync()
    {
        var options = new SiloOptions { EventPollInterval = TimeSpan.FromHours(1) };
        _streamLog = new StreamLog(_storage, options, TimeProvider.System, NullLogger.Instance);
        await _streamLog.StartAsync(CancellationToken.None);
        _batcher = CreateSut(options);
        _batcher.Start();
    }

    public async Task DisposeAsync()
    {
        _storage.Open();
        await _batcher.DisposeAsync();
        await _streamLog.DisposeAsync();
    }

    [Fact]
    public async Task SubmitAsync_ConcurrentWrites_CompleteOnlyAfterTheirCommitAndShareTransactions()
    {
        var writes = Enumerable.Range(0, 50)
            .Select(i => _batcher.SubmitAsync(StorageWrite.State(new GrainStateKey("t", $"k{i}", "s"), "{}", 0, [])))
            .ToList();
        await _storage.FirstCommitStarted;

        Assert.All(writes, write => Assert.False(write.IsCompleted));
        _storage.Open();
        await Task.WhenAll(writes);

        Assert.True(_storage.Commits <= 2, $"50 writes took {_storage.Commits} transactions");
        Assert.Equal(50, _storage.WritesCommitted);
    }

    [Fact]
    public async Task SubmitAsync_SameRowTwiceInOneBatch_SecondWaitsForNextTransaction()
    {
        var key = new GrainStateKey("t", "same", "s");
        _storage.Open();
        var first = _batcher.SubmitAsync(StorageWrite.State(key, "{}", 0, []));
        var second = StorageWrite.State(key, "{}", 1, []);

        await Task.WhenAll(first, _batcher.SubmitAsync(second));

        Assert.False(second.Conflict);
        Assert.Equal(2, second.NewVersion);
    }

    [Fact]
    public async Task SubmitAsync_StorageFails_EveryWriterInTheBatchGetsTheError()
    {
        _storage.FailNextCommit(new IOException("disk on fire"));
        var writes = Enumerable.Range(0, 5)
            .Select(i => _batcher.SubmitAsync(StorageWrite.State(new GrainStateKey("t", $"f{i}", "s"), "{}", 0, [])))
            .ToList();
        _storage.Open();

        foreach (var write in writes)
        {
            try
            {
                await write;
            }
            catch (IOException exception)
            {
                Assert.Equal("disk on fire", exception.Message);
            }
        }

        Assert.Contains(writes, write => write.IsFaulted);
        var retry = StorageWrite.State(new GrainStateKey("t", "after", "s"), "{}", 0, []);
        await _batcher.SubmitAsync(retry);
        Assert.Equal(1, retry.NewVersion);
    }

    [Fact]
    public async Task SubmitAsync_EventsCommitted_PublishedToLiveFollowersInOrder()
    {
        _storage.Open();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var follower = _streamLog.FollowAsync(0, "orders", stop.Token).GetAsyncEnumerator(stop.Token);
        var firstRead = follower.MoveNextAsync();

        await _batcher.SubmitAsync(StorageWrite.EventsOnly([Draft("orders", "a"), Draft("other", "x"), Draft("orders", "b")]));

        Assert.True(await firstRead);
        Assert.Equal("a", follower.Current.Type);
        Assert.True(await follower.MoveNextAsync());
        Assert.Equal("b", follower.Current.Type);
        Assert.Equal(3, follower.Current.Sequence);
        await follower.DisposeAsync();
    }

    [Fact]
    public async Task SubmitAsync_OwnCommitsHinted_PublishedWithoutReadingThemBack()
    {
        _storage.Open();
        _storage.HintArrivesFirst = true;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var follower = _streamLog.FollowAsync(0, "orders", stop.Token).GetAsyncEnumerator(stop.Token);
        var first = follower.MoveNextAsync();
        await _batcher.SubmitAsync(StorageWrite.EventsOnly([Draft("orders", "e0")]));
        Assert.True(await first);
        var readsBefore = _storage.EventReads;

        for (var i = 1; i <= 20; i++)
        {
            await _batcher.SubmitAsync(StorageWrite.EventsOnly([Draft("orders", $"e{i}")]));
            Assert.True(await follower.MoveNextAsync());
        }

        Assert.Equal(21, follower.Current.Sequence);
        Assert.Equal(readsBefore, _storage.EventReads);
    }

    private WriteBatcher CreateSut(SiloOptions options) =>
        new(_storage, _streamLog, options, new RuntimeInstruments(), NullLogger.Instance);

    private static EventDraft Draft(string streamNamespace, string type) =>
        new(new StreamId(streamNamespace, "k"), type, DateTimeOffset.UnixEpoch, "{}");

    /// <summary>Memory storage whose commits wait for a gate, counting transactions.</summary>
    private sealed class GatedStorage : IGrainStorage
    {
        private readonly MemoryGrainStorage _inner = new();
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _firstCommit = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Exception? _failure;
        private int _eventReads;

        public Task FirstCommitStarted => _firstCommit.Task;

        public bool HintArrivesFirst { get; set; }

        public int Commits { get; private set; }

        public int WritesCommitted { get; private set; }

        public string ProviderName => "Gated";

        public int MaxConcurrentCommits => 1;

        public void Open() => _gate.TrySetResult();

        public void FailNextCommit(Exception failure) => _failure = failure;

        public async Task CommitAsync(IReadOnlyList<StorageWrite> writes, CancellationToken cancellationToken)
        {
            _firstCommit.TrySetResult();
            await _gate.Task;
            if (Interlocked.Exchange(ref _failure, null) is { } failure)
            {
                throw failure;
            }

            Commits++;
            WritesCommitted += writes.Count;
            await _inner.CommitAsync(writes, cancellationToken);
            if (HintArrivesFirst)
            {
                // The commit's own hint reaches the stream log well before the batcher hands over the events,
                // as a Postgres NOTIFY often does.
                await Task.Delay(20, CancellationToken.None);
            }
        }

        public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<GrainStateRecord?> ReadStateAsync(GrainStateKey key, CancellationToken cancellationToken) => _inner.ReadStateAsync(key, cancellationToken);

        public int EventReads => Volatile.Read(ref _eventReads);

        public Task<IReadOnlyList<StreamEvent>> ReadEventsAsync(long afterSequence, int limit, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _eventReads);
            return _inner.ReadEventsAsync(afterSequence, limit, cancellationToken);
        }

        public Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken) => _inner.ReadLastSequenceAsync(cancellationToken);

        public Task<IReadOnlyList<ReminderEntry>> ReadRemindersAsync(CancellationToken cancellationToken) => _inner.ReadRemindersAsync(cancellationToken);

        public Task<long> ReadCursorAsync(string subscriber, CancellationToken cancellationToken) => _inner.ReadCursorAsync(subscriber, cancellationToken);

        public Task WriteCursorAsync(string subscriber, long sequence, CancellationToken cancellationToken) => _inner.WriteCursorAsync(subscriber, sequence, cancellationToken);

        public Task CheckHealthAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public IAsyncDisposable WatchCommits(Action<long> onCommit) => _inner.WatchCommits(onCommit);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
