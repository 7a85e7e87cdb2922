using Orchestration.Runtime.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Streams;
using Orchestration.Testing;

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
    public async Task SubmitAsync_StorageFails_EveryWriterInTheBatchGetsTheError()
    {
        var blocker = _batcher.SubmitAsync(StorageWrite.State(new GrainStateKey("t", "blocker", "s"), "{}", 0, []));
        await _storage.FirstCommitStarted;
        var writes = Enumerable.Range(0, 5)
            .Select(i => StorageWrite.State(new GrainStateKey("t", $"f{i}", "s"), "{}", 0, []))
            .ToList();
        var submissions = writes.ConvertAll(_batcher.SubmitAsync);
        _storage.FailNextCommit(new IOException("disk on fire"));

        _storage.Open();

        await blocker;
        foreach (var submission in submissions)
        {
            var failure = await Assert.ThrowsAsync<IOException>(() => submission);
            Assert.Equal("disk on fire", failure.Message);
        }

        Assert.Equal([1, 5], _storage.BatchSizes);
        foreach (var write in writes)
        {
            Assert.Null(await _storage.ReadStateAsync(write.StateKey!.Value, CancellationToken.None));
        }

        var retry = StorageWrite.State(new GrainStateKey("t", "after", "s"), "{}", 0, []);
        await _batcher.SubmitAsync(retry);
        Assert.Equal(1, retry.NewVersion);
    }

    [Fact]
    public async Task SubmitAsync_QueueFull_WaitsUntilACommitFreesSpace()
    {
        var batcher = CreateSut(new SiloOptions { MaxPendingWrites = 2 });
        batcher.Start();
        try
        {
            var inCommit = batcher.SubmitAsync(Write("in-commit"));
            await _storage.FirstCommitStarted;
            var queued = new[] { batcher.SubmitAsync(Write("queued-1")), batcher.SubmitAsync(Write("queued-2")) };

            var overflow = batcher.SubmitAsync(Write("overflow"));

            Assert.Equal(2, batcher.QueuedWrites);
            Assert.False(overflow.IsCompleted);
            _storage.Open();
            await Task.WhenAll([inCommit, .. queued, overflow]);
            Assert.Equal(4, _storage.WritesCommitted);
            Assert.Equal(1, (await _storage.ReadStateAsync(Key("overflow"), CancellationToken.None))!.Version);
        }
        finally
        {
            _storage.Open(); // a failed assertion must not leave the batcher's drain waiting at the gate
            await batcher.DisposeAsync();
        }
    }

    [Fact]
    public async Task SubmitAsync_WaitingForSpaceWhenStopping_IsRefusedAndNotStored()
    {
        var batcher = CreateSut(new SiloOptions { MaxPendingWrites = 2 });
        batcher.Start();
        var inCommit = batcher.SubmitAsync(Write("in-commit"));
        await _storage.FirstCommitStarted;
        var queued = new[] { batcher.SubmitAsync(Write("queued-1")), batcher.SubmitAsync(Write("queued-2")) };
        var overflow = batcher.SubmitAsync(Write("overflow"));

        var stopping = batcher.DisposeAsync();
        _storage.Open();
        await stopping;

        await Assert.ThrowsAsync<InvalidOperationException>(() => overflow);
        await Task.WhenAll([inCommit, .. queued]);
        Assert.Equal(3, _storage.WritesCommitted);
        Assert.Null(await _storage.ReadStateAsync(Key("overflow"), CancellationToken.None));
    }

    [Fact]
    public async Task SubmitAsync_EventsCommitted_PublishedToLiveFollowersInOrder()
    {
        _storage.Open();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var follower = _streamLog.FollowAsync(0, "orders", cancellationToken: stop.Token).GetAsyncEnumerator(stop.Token);
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
        await using var follower = _streamLog.FollowAsync(0, "orders", cancellationToken: stop.Token).GetAsyncEnumerator(stop.Token);
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

    [Fact]
    public async Task SubmitAsync_FewWritesBesideACommitInFlight_WaitForItAndShareTheNextCommit()
    {
        await using var twoSlots = await StartTwoSlotBatcherAsync();
        var first = twoSlots.Batcher.SubmitAsync(Write("first"));
        await twoSlots.Storage.FirstCommitStarted;

        var few = Enumerable.Range(0, 5).Select(i => twoSlots.Batcher.SubmitAsync(Write($"few{i}"))).ToList();
        // The second slot is free: give the batcher time to start a commit beside the first, which it must not.
        await Task.Delay(200);

        Assert.Equal([1], twoSlots.Storage.BatchSizes);
        twoSlots.Storage.Open();
        await Task.WhenAll(few.Append(first));
        Assert.Equal([1, 5], twoSlots.Storage.BatchSizes);
    }

    [Fact]
    public async Task SubmitAsync_FewWritesBesideACommitThatHangs_StartASecondCommitOnceItHasStalled()
    {
        var clock = new ManualTimeProvider();
        await using var twoSlots = await StartTwoSlotBatcherAsync(clock: clock);
        var first = twoSlots.Batcher.SubmitAsync(Write("first"));
        await twoSlots.Storage.FirstCommitStarted;

        var few = Enumerable.Range(0, 5).Select(i => twoSlots.Batcher.SubmitAsync(Write($"few{i}"))).ToList();
        await Task.Delay(100);
        Assert.Equal([1], twoSlots.Storage.BatchSizes); // not yet: the first commit has not run for long

        // The first commit stays held: once it has run too long, the few go beside it.
        await Eventually.TrueAsync(() =>
        {
            clock.Advance(WriteBatcher.StalledCommitAfter);
            return Task.FromResult(twoSlots.Storage.BatchSizes.Count == 2);
        }, "a second commit beside the stalled one");
        Assert.Equal([1, 5], twoSlots.Storage.BatchSizes);
        twoSlots.Storage.Open();
        await Task.WhenAll(few.Append(first));
    }

    [Fact]
    public async Task SubmitAsync_EnoughWritesBesideACommitInFlight_StartASecondCommitAtOnce()
    {
        await using var twoSlots = await StartTwoSlotBatcherAsync();
        var first = twoSlots.Batcher.SubmitAsync(Write("first"));
        await twoSlots.Storage.FirstCommitStarted;

        var many = Enumerable.Range(0, WriteBatcher.ConcurrentCommitMinWrites)
            .Select(i => twoSlots.Batcher.SubmitAsync(Write($"many{i}")))
            .ToList();

        await Eventually.TrueAsync(() => Task.FromResult(twoSlots.Storage.BatchSizes.Count == 2), "a second commit beside the first");
        Assert.Equal([1, WriteBatcher.ConcurrentCommitMinWrites], twoSlots.Storage.BatchSizes);
        twoSlots.Storage.Open();
        await Task.WhenAll(many.Append(first));
    }

    [Fact]
    public async Task SubmitAsync_QueueSmallerThanTheThreshold_AFullQueueStartsASecondCommit()
    {
        await using var twoSlots = await StartTwoSlotBatcherAsync(maxPendingWrites: 8);
        var first = twoSlots.Batcher.SubmitAsync(Write("first"));
        await twoSlots.Storage.FirstCommitStarted;

        var full = Enumerable.Range(0, 8).Select(i => twoSlots.Batcher.SubmitAsync(Write($"full{i}"))).ToList();

        await Eventually.TrueAsync(() => Task.FromResult(twoSlots.Storage.BatchSizes.Count == 2), "a second commit beside the first");
        Assert.Equal([1, 8], twoSlots.Storage.BatchSizes);
        twoSlots.Storage.Open();
        await Task.WhenAll(full.Append(first));
    }

    /// <summary>
    /// A batcher over gated memory storage that allows two commits side by side, as Postgres does, on a manual clock, so
    /// a held commit counts as stalled only when a test moves the time.
    /// </summary>
    private static Task<RunningBatcher> StartTwoSlotBatcherAsync(int maxPendingWrites = 10_000, ManualTimeProvider? clock = null) =>
        RunningBatcher.StartAsync(new GatedStorage { MaxConcurrentCommits = 2 }, maxPendingWrites, clock ?? new ManualTimeProvider());

    private WriteBatcher CreateSut(SiloOptions options) =>
        new(_storage, _streamLog, options, TimeProvider.System, new RuntimeInstruments(), NullLogger.Instance);

    private static GrainStateKey Key(string name) => new("t", name, "s");

    private static StorageWrite Write(string name) => StorageWrite.State(Key(name), "{}", 0, []);

    private static EventDraft Draft(string streamNamespace, string type) =>
        new(new StreamId(streamNamespace, "k"), type, DateTimeOffset.UnixEpoch, "{}");
}

/// <summary>
/// The batcher against each real provider: a batch never holds two writes of one row, since a provider checks every
/// row of a batch against the version stored before it (Postgres) and the second write expects the first's result.
/// </summary>
public abstract class WriteBatcherProviderTests : IAsyncLifetime
{
    private GatedStorage _storage = null!;
    private RunningBatcher _running = null!;

    private protected abstract Task<IGrainStorage> CreateStorageAsync();

    public async Task InitializeAsync()
    {
        _storage = new GatedStorage(await CreateStorageAsync());
        await _storage.InitializeAsync(CancellationToken.None);
        _running = await RunningBatcher.StartAsync(_storage);
    }

    public virtual async Task DisposeAsync()
    {
        await _running.DisposeAsync();
        await _storage.DisposeAsync();
    }

    [Fact]
    public async Task SubmitAsync_SameRowTwiceWhileQueued_SecondGoesInALaterBatchAndBuildsOnTheFirst()
    {
        var key = new GrainStateKey("t", "same", "s");
        var blocker = _running.Batcher.SubmitAsync(StorageWrite.State(new GrainStateKey("t", "blocker", "s"), "{}", 0, []));
        await _storage.FirstCommitStarted;
        var first = StorageWrite.State(key, """{"n":1}""", 0, []);
        var second = StorageWrite.State(key, """{"n":2}""", 1, []);
        var submissions = new[] { blocker, _running.Batcher.SubmitAsync(first), _running.Batcher.SubmitAsync(second) };

        _storage.Open();
        await Task.WhenAll(submissions);

        Assert.Equal((false, 1L), (first.Conflict, first.NewVersion));
        Assert.Equal((false, 2L), (second.Conflict, second.NewVersion));
        Assert.Equal([0, 1, 1], _storage.Batches.Select(batch => batch.Count(write => write.StateKey == key)));
        var stored = await _storage.ReadStateAsync(key, CancellationToken.None);
        Assert.Equal(2, stored!.Version);
        Assert.Contains("2", stored.Data);
    }
}

public sealed class MemoryWriteBatcherTests : WriteBatcherProviderTests
{
    private protected override Task<IGrainStorage> CreateStorageAsync() => Task.FromResult<IGrainStorage>(new MemoryGrainStorage());
}

public sealed class SqliteWriteBatcherTests : WriteBatcherProviderTests
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"orch-{Guid.NewGuid():N}.db");

    private protected override Task<IGrainStorage> CreateStorageAsync() => Task.FromResult<IGrainStorage>(new SqliteGrainStorage(_path, TimeProvider.System));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        StorageChoice.Sqlite.DeleteFiles(_path);
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresWriteBatcherTests(PostgresServerFixture postgres) : WriteBatcherProviderTests
{
    private protected override async Task<IGrainStorage> CreateStorageAsync() =>
        new PostgresGrainStorage(await postgres.Server.CreateDatabaseAsync());
}

/// <summary>A started write batcher and its stream log over a gated storage; disposing opens the gate and stops both.</summary>
internal sealed class RunningBatcher : IAsyncDisposable
{
    private readonly StreamLog _streamLog;

    private RunningBatcher(GatedStorage storage, StreamLog streamLog, WriteBatcher batcher)
    {
        Storage = storage;
        _streamLog = streamLog;
        Batcher = batcher;
    }

    public GatedStorage Storage { get; }

    public WriteBatcher Batcher { get; }

    /// <summary>The batcher's clock is the system's unless given: a manual one decides when a commit in flight has stalled.</summary>
    public static async Task<RunningBatcher> StartAsync(GatedStorage storage, int maxPendingWrites = 10_000, TimeProvider? clock = null)
    {
        var options = new SiloOptions { EventPollInterval = TimeSpan.FromHours(1), MaxPendingWrites = maxPendingWrites };
        var streamLog = new StreamLog(storage, options, TimeProvider.System, NullLogger.Instance);
        await streamLog.StartAsync(CancellationToken.None);
        var batcher = new WriteBatcher(storage, streamLog, options, clock ?? TimeProvider.System, new RuntimeInstruments(), NullLogger.Instance);
        batcher.Start();
        return new RunningBatcher(storage, streamLog, batcher);
    }

    public async ValueTask DisposeAsync()
    {
        Storage.Open();
        await Batcher.DisposeAsync();
        await _streamLog.DisposeAsync();
    }
}

/// <summary>A storage (memory unless given) whose commits wait for a gate, recording every batch.</summary>
internal sealed class GatedStorage(IGrainStorage? inner = null) : IGrainStorage
{
    private readonly IGrainStorage _inner = inner ?? new MemoryGrainStorage();
    private readonly List<IReadOnlyList<StorageWrite>> _batches = [];
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _firstCommit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _failure;
    private int _eventReads;
    private long _failEventReadBefore;
    private int _commits;
    private int _writesCommitted;

    public Task FirstCommitStarted => _firstCommit.Task;

    public bool HintArrivesFirst { get; set; }

    /// <summary>Runs after each successful commit, on the committing thread, before the commit is reported done.</summary>
    public Action<IReadOnlyList<StorageWrite>>? Committed { get; set; }

    public int Commits => Volatile.Read(ref _commits);

    public int WritesCommitted => Volatile.Read(ref _writesCommitted);

    /// <summary>Every batch handed to the storage, in order, including those that failed.</summary>
    public IReadOnlyList<IReadOnlyList<StorageWrite>> Batches
    {
        get
        {
            lock (_batches)
            {
                return [.. _batches];
            }
        }
    }

    public IReadOnlyList<int> BatchSizes => [.. Batches.Select(batch => batch.Count)];

    public string ProviderName => "Gated";

    public int MaxConcurrentCommits { get; init; } = 1;

    public void Open() => _gate.TrySetResult();

    /// <summary>The next commit to start fails (one already waiting at the gate does not).</summary>
    public void FailNextCommit(Exception failure) => _failure = failure;

    /// <summary>The next read of the log from before <paramref name="sequence"/> fails (a read from the end does not).</summary>
    public void FailNextEventReadBefore(long sequence) => Volatile.Write(ref _failEventReadBefore, sequence);

    public async Task CommitAsync(IReadOnlyList<StorageWrite> writes, CancellationToken cancellationToken)
    {
        lock (_batches)
        {
            _batches.Add([.. writes]);
        }

        var failure = Interlocked.Exchange(ref _failure, null);
        _firstCommit.TrySetResult();
        await _gate.Task;
        if (failure is not null)
        {
            throw failure;
        }

        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _writesCommitted, writes.Count);
        await _inner.CommitAsync(writes, cancellationToken);
        Committed?.Invoke(writes);
        if (HintArrivesFirst)
        {
            // The commit's own hint reaches the stream log well before the batcher hands over the events,
            // as a Postgres NOTIFY often does.
            await Task.Delay(20, CancellationToken.None);
        }
    }

    public Task InitializeAsync(CancellationToken cancellationToken) => _inner.InitializeAsync(cancellationToken);

    public Task<GrainStateRecord?> ReadStateAsync(GrainStateKey key, CancellationToken cancellationToken) => _inner.ReadStateAsync(key, cancellationToken);

    public int EventReads => Volatile.Read(ref _eventReads);

    public Task<IReadOnlyList<StreamEvent>> ReadEventsAsync(long afterSequence, int limit, CancellationToken cancellationToken)
    {
        var failBefore = Volatile.Read(ref _failEventReadBefore);
        if (afterSequence < failBefore && Interlocked.CompareExchange(ref _failEventReadBefore, 0, failBefore) == failBefore)
        {
            throw new TimeoutException("The log's read did not answer in time.");
        }

        Interlocked.Increment(ref _eventReads);
        return _inner.ReadEventsAsync(afterSequence, limit, cancellationToken);
    }

    public Task<IReadOnlyList<StreamEvent>> ReadTenantEventsAsync(string tenant, long afterSequence, int limit, CancellationToken cancellationToken) =>
        _inner.ReadTenantEventsAsync(tenant, afterSequence, limit, cancellationToken);

    public Task<ProjectionPage> QueryProjectionsAsync(ProjectionQuery query, CancellationToken cancellationToken) =>
        _inner.QueryProjectionsAsync(query, cancellationToken);

    public Task<ProjectionRow?> ReadProjectionAsync(string collection, string tenant, string id, CancellationToken cancellationToken) =>
        _inner.ReadProjectionAsync(collection, tenant, id, cancellationToken);

    public Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken) => _inner.ReadLastSequenceAsync(cancellationToken);

    public Task<IReadOnlyList<ReminderEntry>> ReadRemindersAsync(DateTimeOffset? dueBy, CancellationToken cancellationToken) => _inner.ReadRemindersAsync(dueBy, cancellationToken);

    public Task<long> ReadCursorAsync(string subscriber, CancellationToken cancellationToken) => _inner.ReadCursorAsync(subscriber, cancellationToken);

    public Task WriteCursorAsync(string subscriber, long sequence, CancellationToken cancellationToken) => _inner.WriteCursorAsync(subscriber, sequence, cancellationToken);

    public Task CheckHealthAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public IAsyncDisposable WatchCommits(Action<long> onCommit) => _inner.WatchCommits(onCommit);

    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}
