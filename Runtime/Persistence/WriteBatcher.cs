using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Streams;

namespace Orchestration.Runtime.Persistence;

/// <summary>
/// Group commit: writes from many activations queue here and leave together in one storage transaction; each writer is
/// completed only after that transaction commits. While a commit is in flight the next batch gathers, so batches grow
/// with load and a lone write waits for nothing. A provider may allow commits side by side; a further commit starts
/// beside one in flight only once <see cref="ConcurrentCommitMinWrites"/> writes wait, or once the wait has lasted
/// <see cref="StalledCommitAfter"/>, and otherwise when the one in flight ends.
/// </summary>
internal sealed partial class WriteBatcher : IAsyncDisposable
{
    /// <summary>
    /// Writes that must be waiting before a commit starts beside one in flight. Every commit has a fixed cost (on
    /// Postgres a round trip, the commit function's statements, a WAL flush, and the event lock it takes after the one in
    /// flight), so a handful of writes do better to join the batch that gathers behind it. Measured on Postgres: with
    /// 32 agents (batches of ~10) a second commit at once cost 1.6 times the database CPU per task and 16 % of the rate;
    /// with 1,024 writers (batches of ~300) the second commit adds a fifth to the rate.
    /// </summary>
    internal const int ConcurrentCommitMinWrites = 64;

    /// <summary>
    /// How long fewer than <see cref="ConcurrentCommitMinWrites"/> writes wait for the commit in flight before they start
    /// one beside it anyway: a commit that hangs (a lock wait, a dead connection until its command timeout) must not
    /// hold every write of the silo behind it. Far above a healthy commit (a few milliseconds, tens under a heavy
    /// load), so it costs nothing otherwise.
    /// </summary>
    internal static readonly TimeSpan StalledCommitAfter = TimeSpan.FromMilliseconds(250);

    private readonly Channel<PendingWrite> _queue;
    private readonly IGrainStorage _storage;
    private readonly StreamLog _streamLog;
    private readonly RuntimeInstruments _instruments;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly int _maxBatchSize;
    private readonly int _concurrentCommitMinWrites; // never more than a batch can take or the queue can hold
    private readonly SemaphoreSlim _commitSlots;
    private readonly List<PendingWrite> _deferred = [];
    private int _commitsInFlight;
    private TaskCompletionSource? _roomForConcurrentCommit; // set while a batch waits for volume or for the commit in flight
    private Task? _loop;

    public WriteBatcher(IGrainStorage storage, StreamLog streamLog, SiloOptions options, TimeProvider timeProvider, RuntimeInstruments instruments, ILogger logger)
    {
        _timeProvider = timeProvider;
        _storage = storage;
        _streamLog = streamLog;
        _instruments = instruments;
        _logger = logger;
        _maxBatchSize = options.MaxWriteBatchSize;
        _concurrentCommitMinWrites = Math.Min(ConcurrentCommitMinWrites, Math.Min(options.MaxWriteBatchSize, options.MaxPendingWrites));
        _queue = Channel.CreateBounded<PendingWrite>(new BoundedChannelOptions(options.MaxPendingWrites)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _commitSlots = new SemaphoreSlim(storage.MaxConcurrentCommits);
    }

    public void Start() => _loop = Task.Run(RunAsync);

    /// <summary>Writes accepted and waiting for a batch (not those in a commit, nor submitters waiting for room).</summary>
    internal int QueuedWrites => _queue.Reader.Count;

    /// <summary>
    /// Queues a write; completes once it is durable (or has failed its version check, see <see cref="StorageWrite.Conflict"/>).
    /// When <see cref="SiloOptions.MaxPendingWrites"/> writes are queued, waits for a batch to take some first.
    /// A fenced write whose lease period has ended here fails at once with <see cref="GrainOwnershipLostException"/>,
    /// as does one the database refuses because its partition's epoch moved on.
    /// </summary>
    public Task SubmitAsync(StorageWrite write)
    {
        if (write.Fence is { } fence && !fence.Lease.IsServing(_timeProvider.GetTimestamp()))
        {
            _instruments.WriteFenced();
            return Task.FromException(OwnershipLost(fence, "its lease ended here"));
        }

        var pending = new PendingWrite(write);
        if (!_queue.Writer.TryWrite(pending))
        {
            return SubmitWhenRoomAsync(pending);
        }

        SignalIfEnoughQueued();
        return pending.Task;
    }

    private void SignalIfEnoughQueued()
    {
        if (Volatile.Read(ref _roomForConcurrentCommit) is { Task.IsCompleted: false } waiting && _queue.Reader.Count >= _concurrentCommitMinWrites)
        {
            waiting.TrySetResult();
        }
    }

    private async Task SubmitWhenRoomAsync(PendingWrite pending)
    {
        try
        {
            await _queue.Writer.WriteAsync(pending).ConfigureAwait(false);
            SignalIfEnoughQueued();
        }
        catch (ChannelClosedException)
        {
            // Never queued, so never stored: the writer may retry elsewhere.
            throw Stopping();
        }

        await pending.Task.ConfigureAwait(false);
    }

    private static GrainOwnershipLostException OwnershipLost(WriteFence fence, string why) =>
        new(fence.Grain, $"{fence.Lease}: {why}");

    private static InvalidOperationException Stopping() => new("The silo is stopping; no more writes are accepted.");

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        while (_deferred.Count > 0 || await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            await _commitSlots.WaitAsync().ConfigureAwait(false);
            if (Volatile.Read(ref _commitsInFlight) > 0)
            {
                await WaitForVolumeOrCommitEndAsync(reader).ConfigureAwait(false);
            }

            var batch = TakeBatch(reader);
            Interlocked.Increment(ref _commitsInFlight);
            _ = CommitAsync(batch);
        }

        // Drain: wait for commits in flight before reporting the loop finished.
        for (var i = 0; i < _storage.MaxConcurrentCommits; i++)
        {
            await _commitSlots.WaitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Holding a free slot beside a commit in flight: waits until the batch is worth a commit of its own, or the commit in
    /// flight has stalled.
    /// </summary>
    private async Task WaitForVolumeOrCommitEndAsync(ChannelReader<PendingWrite> reader)
    {
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Published with a full fence before reading the counts; a submitter or an ending commit changes its count (also
        // fenced) before reading this field, so at least one side sees the other and no signal is lost.
        Interlocked.Exchange(ref _roomForConcurrentCommit, waiting);
        if (Volatile.Read(ref _commitsInFlight) == 0 || reader.Count + _deferred.Count >= _concurrentCommitMinWrites)
        {
            waiting.TrySetResult();
        }

        try
        {
            await waiting.Task.WaitAsync(StalledCommitAfter, _timeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The commit in flight has stalled: these writes go beside it.
        }

        Volatile.Write(ref _roomForConcurrentCommit, null);
    }

    /// <summary>
    /// Takes up to the batch size. A batch never holds two writes of the same state row (the second waits for the next
    /// batch), so the provider's per-row version checks are unambiguous.
    /// </summary>
    private List<PendingWrite> TakeBatch(ChannelReader<PendingWrite> reader)
    {
        var batch = new List<PendingWrite>();
        var rows = new HashSet<GrainStateKey>();
        var carried = _deferred.ToArray();
        _deferred.Clear();
        foreach (var pending in carried)
        {
            Add(pending);
        }

        while (batch.Count < _maxBatchSize && reader.TryRead(out var next))
        {
            Add(next);
        }

        return batch;

        void Add(PendingWrite pending)
        {
            if (pending.Write.StateKey is { } key && !rows.Add(key))
            {
                _deferred.Add(pending);
            }
            else
            {
                batch.Add(pending);
            }
        }
    }

    private async Task CommitAsync(List<PendingWrite> batch)
    {
        try
        {
            if (batch.Count == 0)
            {
                return;
            }

            var writes = batch.ConvertAll(pending => pending.Write);
            var startedAt = Stopwatch.GetTimestamp();
            _streamLog.OnLocalCommitStarting();
            try
            {
                await _storage.CommitAsync(writes, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                _streamLog.OnLocalCommit([]);
                LogCommitFailed(_logger, batch.Count, exception);
                foreach (var pending in batch)
                {
                    pending.TrySetException(exception);
                }

                return;
            }

            _instruments.RecordCommit(batch.Count, Stopwatch.GetElapsedTime(startedAt));
            _streamLog.OnLocalCommit(CommittedEvents(writes));
            foreach (var pending in batch)
            {
                if (pending.Write is { Fenced: true, Fence: { } fence })
                {
                    _instruments.WriteFenced();
                    pending.TrySetException(OwnershipLost(fence, "the database holds a newer epoch of its partition"));
                }
                else
                {
                    pending.TrySetResult();
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _commitsInFlight);
            Volatile.Read(ref _roomForConcurrentCommit)?.TrySetResult();
            _commitSlots.Release();
        }
    }

    private static List<StreamEvent> CommittedEvents(List<StorageWrite> writes)
    {
        var events = new List<StreamEvent>();
        foreach (var write in writes)
        {
            if (write.Conflict || write.Fenced)
            {
                continue;
            }

            for (var i = 0; i < write.Events.Count; i++)
            {
                events.Add(write.Events[i].ToCommitted(write.FirstSequence + i));
            }
        }

        events.Sort(static (left, right) => left.Sequence.CompareTo(right.Sequence));
        return events;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A storage commit of {Count} writes failed; every writer in it gets the error")]
    private static partial void LogCommitFailed(ILogger logger, int count, Exception exception);

    private sealed class PendingWrite(StorageWrite write) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public StorageWrite Write { get; } = write;
    }
}
