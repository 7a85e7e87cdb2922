using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Projections;

namespace Orchestration.Runtime.Streams;

/// <summary>
/// This process's view of the durable event log: publishes committed events, in sequence order, to in-process
/// subscribers. Local commits are published straight away when they follow on; anything else (commits of other
/// processes, out-of-order local batches) is read from storage, woken by storage hints or by polling.
/// </summary>
/// <remarks>
/// A hint about a commit of our own can arrive before the commit's events are handed over, so hints and polls wait
/// while local commits are in flight: reading those events back from storage would only repeat them. They wait at most
/// <see cref="SiloOptions.EventHintGracePeriod"/>, so a slow or stuck local commit cannot hold back other processes'
/// events; whatever such a read publishes early is skipped by sequence when the local commit hands it over. Commits of
/// others that land between ours get read at once, because they leave a gap in the local sequence.
/// </remarks>
internal sealed partial class StreamLog : IStreamLog, IAsyncDisposable
{
    private const int PageSize = 512;

    private readonly Channel<Signal> _work = Channel.CreateUnbounded<Signal>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IGrainStorage _storage;
    private readonly SiloOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private ImmutableArray<Subscription> _subscriptions = [];
    private long _published;
    private int _localCommitsInFlight;
    private IAsyncDisposable? _watch;
    private ITimer? _poll;
    private Task? _loop;

    public StreamLog(IGrainStorage storage, SiloOptions options, TimeProvider timeProvider, ILogger logger)
    {
        _storage = storage;
        _options = options;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    public long LastSequence => Volatile.Read(ref _published);

    public async Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken = default) =>
        Math.Max(LastSequence, await _storage.ReadLastSequenceAsync(cancellationToken).ConfigureAwait(false));

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _published = await _storage.ReadLastSequenceAsync(cancellationToken);
        _watch = _storage.WatchCommits(sequence => _work.Writer.TryWrite(new Signal(null, sequence)));
        _poll = _timeProvider.CreateTimer(_ => _work.Writer.TryWrite(new Signal(null, long.MaxValue)), null, _options.EventPollInterval, _options.EventPollInterval);
        _loop = Task.Run(RunAsync, CancellationToken.None);
    }

    /// <summary>Called by the write batcher before a commit; every call is matched by one <see cref="OnLocalCommit"/>.</summary>
    public void OnLocalCommitStarting() => Interlocked.Increment(ref _localCommitsInFlight);

    /// <summary>Called by the write batcher after a commit (empty when it failed), with its events in sequence order.</summary>
    public void OnLocalCommit(IReadOnlyList<StreamEvent> events) => _work.Writer.TryWrite(new Signal(events, 0));

    private async Task RunAsync()
    {
        var reader = _work.Reader;
        var hinted = 0L; // the newest sequence someone told us about; long.MaxValue after a poll
        ITimer? grace = null; // runs while a hint waits for local commits in flight
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            var gap = false;
            var graceElapsed = false;
            while (reader.TryRead(out var signal))
            {
                if (signal.GraceElapsed)
                {
                    graceElapsed = true;
                    continue;
                }

                if (signal.Events is not { } events)
                {
                    hinted = Math.Max(hinted, signal.HintedSequence);
                    continue;
                }

                Interlocked.Decrement(ref _localCommitsInFlight);
                if (events.Count > 0 && events[0].Sequence > _published + 1)
                {
                    gap = true;
                }
                else if (!gap)
                {
                    Publish(events);
                }
            }

            var waiting = hinted > _published;
            var catchUp = gap || (waiting && (graceElapsed || Volatile.Read(ref _localCommitsInFlight) == 0));
            if (catchUp || !waiting)
            {
                // A timer that fired just now may still have queued its signal: at worst that makes a later read early.
                grace?.Dispose();
                grace = null;
            }

            if (catchUp)
            {
                hinted = 0;
                try
                {
                    await CatchUpAsync().ConfigureAwait(false);
                }
                catch (Exception exception)
                {
                    LogCatchUpFailed(_logger, _published, exception);
                }
            }
            else if (waiting && grace is null)
            {
                grace = _timeProvider.CreateTimer(
                    static state => ((Channel<Signal>)state!).Writer.TryWrite(new Signal(null, 0, GraceElapsed: true)),
                    _work,
                    _options.EventHintGracePeriod,
                    Timeout.InfiniteTimeSpan);
            }
        }

        grace?.Dispose();
    }

    private async Task CatchUpAsync()
    {
        while (true)
        {
            var page = await _storage.ReadEventsAsync(_published, PageSize, CancellationToken.None).ConfigureAwait(false);
            Publish(page);
            if (page.Count < PageSize)
            {
                return;
            }
        }
    }

    /// <param name="events">In sequence order; those published already (a catch-up read can overlap a local commit) are skipped.</param>
    private void Publish(IReadOnlyList<StreamEvent> events)
    {
        var first = 0;
        while (first < events.Count && events[first].Sequence <= _published)
        {
            first++;
        }

        if (first == events.Count)
        {
            return;
        }

        // Subscriber by subscriber, each given the whole batch: a reader woken by the first event then finds the rest
        // already there and passes them on at once (one flush per commit for a network client, not one per event).
        foreach (var subscription in _subscriptions)
        {
            for (var i = first; i < events.Count; i++)
            {
                subscription.Offer(events[i]);
            }
        }

        Volatile.Write(ref _published, events[^1].Sequence);
    }

    public Task<IReadOnlyList<StreamEvent>> ReadAsync(long afterSequence, int limit, string? tenant = null, CancellationToken cancellationToken = default) =>
        tenant is null
            ? _storage.ReadEventsAsync(afterSequence, limit, cancellationToken)
            : _storage.ReadTenantEventsAsync(tenant, afterSequence, limit, cancellationToken);

    public async IAsyncEnumerable<StreamEvent> FollowAsync(long afterSequence, string? streamNamespace = null, string? tenant = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var batch in FollowBatchesAsync(afterSequence, streamNamespace, tenant, cancellationToken).ConfigureAwait(false))
        {
            foreach (var streamEvent in batch)
            {
                yield return streamEvent;
            }
        }
    }

    /// <summary>
    /// Like <see cref="FollowAsync"/>, in batches: a page of history, or whatever arrived live since the last batch.
    /// A batch may be empty when only events of other namespaces went by. With a tenant, history and catch-up pages are
    /// that tenant's only (filtered by storage); live events are filtered here. A follower whose live buffer overflows
    /// catches up from storage.
    /// </summary>
    internal IAsyncEnumerable<IReadOnlyList<StreamEvent>> FollowBatchesAsync(
        long afterSequence, string? streamNamespace, string? tenant, CancellationToken cancellationToken) =>
        FollowCoreAsync(afterSequence, streamNamespace, tenant, _options.SubscriberBufferSize, endWhenBehind: false, cancellationToken);

    public IAsyncEnumerable<IReadOnlyList<StreamEvent>> FollowUntilBehindAsync(
        long afterSequence, string? streamNamespace, string? tenant, int liveBufferSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(liveBufferSize, 1);
        return FollowCoreAsync(afterSequence, streamNamespace, tenant, liveBufferSize, endWhenBehind: true, cancellationToken);
    }

    private async IAsyncEnumerable<IReadOnlyList<StreamEvent>> FollowCoreAsync(
        long afterSequence, string? streamNamespace, string? tenant, int liveBufferSize, bool endWhenBehind,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Subscribe before reading history: whatever commits during the read arrives live and is de-duplicated by sequence.
        var subscription = Subscribe(streamNamespace, tenant, liveBufferSize);
        try
        {
            var last = afterSequence;
            while (true)
            {
                while (true)
                {
                    var page = await ReadAsync(last, PageSize, tenant, cancellationToken).ConfigureAwait(false);
                    if (page.Count > 0)
                    {
                        last = page[^1].Sequence;
                        yield return streamNamespace is null ? page : page.Where(subscription.Matches).ToList();
                    }

                    if (page.Count < PageSize)
                    {
                        break;
                    }
                }

                while (true)
                {
                    var live = new List<StreamEvent>();
                    while (live.Count < PageSize && subscription.Reader.TryRead(out var streamEvent))
                    {
                        if (streamEvent.Sequence > last)
                        {
                            last = streamEvent.Sequence;
                            live.Add(streamEvent);
                        }
                    }

                    if (live.Count > 0)
                    {
                        yield return live;
                        continue;
                    }

                    if (subscription.ResetOverflow())
                    {
                        if (endWhenBehind)
                        {
                            yield break; // everything before the drop was handed out: the consumer resumes after it
                        }

                        break; // fell behind: what the buffer dropped is read from storage
                    }

                    await subscription.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            Unsubscribe(subscription);
        }
    }

    /// <summary>Subscribes to events as they are published; the subscriber must read on or be marked overflowed.</summary>
    internal Subscription Subscribe(string? streamNamespace, string? tenant = null, int? capacity = null)
    {
        var subscription = new Subscription(streamNamespace, tenant, capacity ?? _options.SubscriberBufferSize);
        ImmutableInterlocked.Update(ref _subscriptions, static (list, item) => list.Add(item), subscription);
        return subscription;
    }

    internal void Unsubscribe(Subscription subscription) =>
        ImmutableInterlocked.Update(ref _subscriptions, static (list, item) => list.Remove(item), subscription);

    // Called by the silo at stop, and again by the container that hands out IStreamLog: only the first call acts.
    public async ValueTask DisposeAsync()
    {
        if (!_work.Writer.TryComplete())
        {
            return;
        }

        if (_poll is not null)
        {
            await _poll.DisposeAsync();
        }

        if (_watch is not null)
        {
            await _watch.DisposeAsync();
        }

        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the event log after sequence {Sequence} failed; retrying at the next hint or poll")]
    private static partial void LogCatchUpFailed(ILogger logger, long sequence, Exception exception);

    /// <summary>
    /// A local commit's events, a hint that the log may have grown up to a sequence, or the end of a hint's wait for
    /// local commits.
    /// </summary>
    private readonly record struct Signal(IReadOnlyList<StreamEvent>? Events, long HintedSequence, bool GraceElapsed = false);

    /// <summary>
    /// One in-process subscriber: a bounded buffer (only events it wants take room), and a flag raised when the buffer
    /// overflowed.
    /// </summary>
    internal sealed class Subscription(string? streamNamespace, string? tenant, int capacity)
    {
        /// <summary>Sequence 0: what an overflowed buffer may hold last, so that a reader waiting on it wakes up.</summary>
        private static readonly StreamEvent s_wakeUp = new(0, new StreamId(string.Empty, string.Empty), string.Empty, DateTimeOffset.MinValue, string.Empty);

        private readonly Channel<StreamEvent> _channel = Channel.CreateBounded<StreamEvent>(
            new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });

        private volatile bool _overflowed;

        public ChannelReader<StreamEvent> Reader => _channel.Reader;

        public bool Matches(StreamEvent streamEvent) =>
            (streamNamespace is null || streamEvent.StreamId.Namespace == streamNamespace)
            && (tenant is null || TenantKey.Belongs(streamEvent.StreamId.Key, tenant));

        public void Offer(StreamEvent streamEvent)
        {
            if (_overflowed || !Matches(streamEvent) || _channel.Writer.TryWrite(streamEvent))
            {
                return;
            }

            _overflowed = true;

            // The reader may have emptied the buffer between the failed write and the flag, found no flag, and gone to
            // wait: nothing else would wake it now that offers stop. An event before every sequence (which readers skip)
            // wakes it; if the buffer is still full, the reader finds the flag when it has drained it.
            _channel.Writer.TryWrite(s_wakeUp);
        }

        /// <summary>Clears the overflow flag; true when it was set (the reader must then re-read from storage).</summary>
        public bool ResetOverflow()
        {
            if (!_overflowed)
            {
                return false;
            }

            _overflowed = false;
            return true;
        }
    }
}
