using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Activations;
using Orchestration.Runtime.Persistence;

namespace Orchestration.Runtime.Streams;

/// <summary>
/// One run of an implicit subscription, from its stored cursor until it stops or fails: a worker per stream key delivers
/// that key's events in order, so a failing consumer holds back only its own stream. The stored cursor is the newest
/// sequence below which every event was delivered or parked; events after it may be delivered again by the next run.
/// </summary>
/// <remarks>
/// Events wait in memory within one budget for the whole run, and a key whose events cannot keep up must not take all of
/// it: a key whose delivery failed (it is retrying) or that has a quarter of the budget waiting stops buffering. Its
/// later events (and, after a failure, those it had buffered) are only noted, and are read again from the event log,
/// in order, once the key is through what it had; the cursor stays below the first of them meanwhile.
/// </remarks>
internal sealed partial class ImplicitSubscriptionRun : IAsyncDisposable
{
    private const int ReplayPageSize = 512;

    private readonly SiloRuntime _runtime;
    private readonly GrainClassInfo _grainClass;
    private readonly string _namespace;
    private readonly string _subscriber;
    private readonly SubscriptionLead _lead;
    private readonly CancellationTokenSource _stop;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Worker> _workers = [];
    private readonly SortedSet<long> _outstanding = [];

    // Bounds the events read but not yet delivered, so a stuck stream cannot make the others buffer without limit.
    private readonly SemaphoreSlim _capacity;

    // The most one key may buffer: beyond it the key reads its events back from the log, so it takes several stuck keys,
    // not one, to fill the budget.
    private readonly int _keyCapacity;
    private readonly Channel<bool> _cursorMoved = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Task _cursorLoop;
    private long _lastAccepted;
    private long _storedCursor;

    public ImplicitSubscriptionRun(
        SiloRuntime runtime, GrainClassInfo grainClass, string streamNamespace, string subscriber, long cursor, SubscriptionLead lead)
    {
        _runtime = runtime;
        _grainClass = grainClass;
        _namespace = streamNamespace;
        _subscriber = subscriber;
        _lead = lead;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(lead.Token);
        _capacity = new SemaphoreSlim(runtime.Options.SubscriberBufferSize);
        _keyCapacity = Math.Max(1, runtime.Options.SubscriberBufferSize / 4);
        _lastAccepted = cursor;
        _storedCursor = cursor;
        _cursorLoop = Task.Run(StoreCursorAsync, CancellationToken.None);
    }

    /// <summary>Whether a worker failed in a way it does not retry, which ended the lead (the next waits a little).</summary>
    public bool WorkerFailed { get; private set; }

    /// <summary>Hands events (in sequence order) to their streams' workers; waits while too many are undelivered.</summary>
    public async Task AcceptAsync(IReadOnlyList<StreamEvent> events, CancellationToken cancellationToken)
    {
        foreach (var streamEvent in events)
        {
            if (Place(streamEvent, permitTaken: false) != Placement.NeedsPermit)
            {
                continue;
            }

            await _capacity.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (Place(streamEvent, permitTaken: true) == Placement.Noted)
            {
                _capacity.Release(); // the key stopped buffering while this waited
            }
        }
    }

    /// <summary>Buffers the event for its key's worker, or notes it for the worker to read again from the log.</summary>
    private Placement Place(StreamEvent streamEvent, bool permitTaken)
    {
        var key = streamEvent.StreamId.Key;
        lock (_gate)
        {
            _workers.TryGetValue(key, out var worker);
            if (worker is not null && (worker.Unbuffered || worker.Queue.Count + 1 >= _keyCapacity))
            {
                worker.Unbuffered = true;
                if (worker.FirstUnbuffered == 0)
                {
                    worker.FirstUnbuffered = streamEvent.Sequence;
                    _outstanding.Add(streamEvent.Sequence);
                }

                worker.LastUnbuffered = streamEvent.Sequence;
                _lastAccepted = streamEvent.Sequence;
                return Placement.Noted;
            }

            if (!permitTaken && !_capacity.Wait(0))
            {
                return Placement.NeedsPermit;
            }

            _outstanding.Add(streamEvent.Sequence);
            _lastAccepted = streamEvent.Sequence;
            if (worker is not null)
            {
                worker.Queue.Enqueue(streamEvent);
                return Placement.Buffered;
            }

            worker = new Worker();
            _workers.Add(key, worker);
            worker.Task = Task.Run(() => RunWorkerAsync(key, worker, streamEvent), CancellationToken.None);
            return Placement.Buffered;
        }
    }

    private async Task RunWorkerAsync(string key, Worker worker, StreamEvent first)
    {
        var consumer = _runtime.GrainFactory.GetGrain<IStreamConsumerGrain>(new GrainId(_grainClass.TypeName, key));
        var next = first;
        try
        {
            while (true)
            {
                await DeliverOrParkAsync(consumer, key, worker, next, _stop.Token).ConfigureAwait(false);
                bool more;
                bool replay;
                lock (_gate)
                {
                    _outstanding.Remove(next.Sequence);
                    more = worker.Queue.TryDequeue(out next!);
                    replay = !more && worker.Unbuffered;
                    if (!more && !replay)
                    {
                        _workers.Remove(key);
                    }
                }

                _cursorMoved.Writer.TryWrite(true);
                if (replay)
                {
                    // The permit stays with the replay, so keys reading back their events count against the budget too.
                    await ReplayAsync(consumer, key, worker, _stop.Token).ConfigureAwait(false);
                    _capacity.Release();
                    return;
                }

                _capacity.Release();
                if (!more)
                {
                    return;
                }
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Cancelled, or failed after the run stopped (a call cut short by the hand-over): the event stays outstanding
            // (or the first unbuffered one does), so the cursor does not pass it and the next leader delivers it.
        }
        catch (Exception exception)
        {
            // Not a failure the worker retries: ended quietly, it would hold its key (and the cursor, and its permit) for
            // good. The lead ends instead, and the next one resumes from the stored cursor, which did not pass the event.
            LogWorkerFailed(_runtime.Logger, _subscriber, key, exception);
            WorkerFailed = true;
            _lead.Stop();
        }
    }

    /// <summary>
    /// The key's buffer is empty and it has events that were not buffered: delivers them from the event log, in order,
    /// until none is left, then lets the key buffer again. Nothing else is buffered for the key meanwhile.
    /// </summary>
    private async Task ReplayAsync(IStreamConsumerGrain consumer, string key, Worker worker, CancellationToken stop)
    {
        long position;
        lock (_gate)
        {
            position = worker.FirstUnbuffered - 1;
        }

        while (true)
        {
            long through;
            lock (_gate)
            {
                if (worker.FirstUnbuffered == 0 || worker.LastUnbuffered <= position)
                {
                    // The first unbuffered event, kept outstanding until now, was delivered last.
                    _outstanding.Remove(worker.FirstUnbuffered);
                    _workers.Remove(key);
                    break;
                }

                through = worker.LastUnbuffered;
            }

            var (own, scanned) = await ReadBackAsync(key, position, through, stop).ConfigureAwait(false);
            if (scanned == position)
            {
                // Only events the log had already handed over were noted, so this is storage disagreeing with itself.
                LogReplayFoundNothing(_runtime.Logger, _subscriber, key, position, through);
                await Task.Delay(_runtime.Options.EventPollInterval, _runtime.TimeProvider, stop).ConfigureAwait(false);
                continue;
            }

            foreach (var streamEvent in own)
            {
                lock (_gate)
                {
                    // The cursor stays below this event from now on instead of the one delivered before it.
                    if (worker.FirstUnbuffered != streamEvent.Sequence)
                    {
                        _outstanding.Add(streamEvent.Sequence);
                        _outstanding.Remove(worker.FirstUnbuffered);
                        worker.FirstUnbuffered = streamEvent.Sequence;
                    }
                }

                await DeliverOrParkAsync(consumer, key, worker, streamEvent, stop).ConfigureAwait(false);
                _cursorMoved.Writer.TryWrite(true);
            }

            position = scanned;
        }

        _cursorMoved.Writer.TryWrite(true);
    }

    /// <summary>
    /// One page of the log after <paramref name="position"/>: the key's events in it up to <paramref name="through"/>
    /// (only those are kept), and the sequence the page was read up to (<paramref name="position"/> when it was empty).
    /// </summary>
    private async Task<(List<StreamEvent> Own, long Scanned)> ReadBackAsync(string key, long position, long through, CancellationToken stop)
    {
        IReadOnlyList<StreamEvent> page;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                page = await _runtime.StreamLog.ReadAsync(position, ReplayPageSize, tenant: null, stop).ConfigureAwait(false);
                break;
            }
            catch (Exception exception) when (!stop.IsCancellationRequested)
            {
                var delay = ImplicitStreamDelivery.RetryDelay(attempt, _runtime.Options.StreamDeliveryRetryDelay, _runtime.Options.StreamDeliveryMaxRetryDelay);
                LogReadBackFailed(_runtime.Logger, _subscriber, key, position, delay, exception);
                await Task.Delay(delay, _runtime.TimeProvider, stop).ConfigureAwait(false);
            }
        }

        var own = page.Where(streamEvent => streamEvent.Sequence <= through
            && streamEvent.StreamId.Namespace == _namespace && streamEvent.StreamId.Key == key).ToList();
        return (own, page.Count == 0 ? position : Math.Min(page[^1].Sequence, through));
    }

    /// <summary>
    /// The key's delivery failed and will be retried: it stops buffering, and what it had buffered goes back to the
    /// log (its permits to the others), so waiting out its retries takes one event's room.
    /// </summary>
    private void StopBuffering(Worker worker)
    {
        var released = 0;
        lock (_gate)
        {
            worker.Unbuffered = true;
            if (worker.Queue.Count == 0)
            {
                return;
            }

            var first = worker.Queue.Dequeue();
            var last = first;
            while (worker.Queue.TryDequeue(out var dropped))
            {
                _outstanding.Remove(dropped.Sequence);
                last = dropped;
                released++;
            }

            released++;
            if (worker.FirstUnbuffered != 0)
            {
                _outstanding.Remove(worker.FirstUnbuffered);
            }

            // Still outstanding: the cursor stays below it until the replay has delivered it.
            worker.FirstUnbuffered = first.Sequence;
            worker.LastUnbuffered = Math.Max(worker.LastUnbuffered, last.Sequence);
        }

        _capacity.Release(released);
    }

    private async Task DeliverOrParkAsync(IStreamConsumerGrain consumer, string key, Worker worker, StreamEvent streamEvent, CancellationToken stop)
    {
        var options = _runtime.Options;
        for (var attempt = 1; ; attempt++)
        {
            StopUnlessLeading();
            try
            {
                await consumer.OnStreamEventAsync(streamEvent).ConfigureAwait(false);
                return;
            }
            catch (Exception exception) when (!stop.IsCancellationRequested)
            {
                if (attempt >= options.StreamDeliveryMaxAttempts)
                {
                    await ParkAsync(key, streamEvent, attempt, exception, stop).ConfigureAwait(false);
                    return;
                }

                StopBuffering(worker);
                var delay = ImplicitStreamDelivery.RetryDelay(attempt, options.StreamDeliveryRetryDelay, options.StreamDeliveryMaxRetryDelay);
                LogDeliveryFailed(_runtime.Logger, streamEvent.Sequence, _grainClass.TypeName, key, attempt, delay, exception);
                await Task.Delay(delay, _runtime.TimeProvider, stop).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Ends the run's deliveries once it no longer leads (stopped for a hand-over, or the lease lapsed): the event stays
    /// after the cursor for the next leader. Checked before each attempt, so no delivery starts once another silo may lead.
    /// </summary>
    private void StopUnlessLeading()
    {
        if (!_lead.IsLeading)
        {
            _lead.Stop(); // cancels _stop at once: it is linked to the lead
        }

        _stop.Token.ThrowIfCancellationRequested();
    }

    /// <summary>Records the event on the parked stream; only once that record is durable may the cursor pass the event.</summary>
    private async Task ParkAsync(string key, StreamEvent streamEvent, int attempts, Exception exception, CancellationToken stop)
    {
        LogEventParked(_runtime.Logger, streamEvent.Sequence, _grainClass.TypeName, key, attempts, exception);
        _runtime.Instruments.StreamEventParked(_subscriber, _grainClass.TypeName);
        var record = new ParkedStreamEvent(
            _subscriber, _grainClass.TypeName, key, streamEvent.Sequence, streamEvent.Type, attempts, $"{exception.GetType().FullName}: {exception.Message}");
        var draft = new EventDraft(
            new StreamId(ImplicitStreamDelivery.ParkedNamespace, _subscriber),
            nameof(ParkedStreamEvent),
            _runtime.TimeProvider.GetUtcNow(),
            JsonSerializer.Serialize(record, ParkedStreamEventJsonContext.Default.ParkedStreamEvent));
        for (var attempt = 1; ; attempt++)
        {
            StopUnlessLeading();
            try
            {
                await _runtime.Batcher.SubmitAsync(StorageWrite.EventsOnly([draft])).WaitAsync(stop).ConfigureAwait(false);
                return;
            }
            catch (Exception writeFailure) when (!stop.IsCancellationRequested)
            {
                var delay = ImplicitStreamDelivery.RetryDelay(attempt, _runtime.Options.StreamDeliveryRetryDelay, _runtime.Options.StreamDeliveryMaxRetryDelay);
                LogParkingFailed(_runtime.Logger, streamEvent.Sequence, _subscriber, delay, writeFailure);
                await Task.Delay(delay, _runtime.TimeProvider, stop).ConfigureAwait(false);
            }
        }
    }

    private long SafeCursor()
    {
        lock (_gate)
        {
            return _outstanding.Count == 0 ? _lastAccepted : _outstanding.Min - 1;
        }
    }

    // One writer, woken after deliveries: bursts of completions collapse into one cursor write.
    private async Task StoreCursorAsync()
    {
        try
        {
            await foreach (var _ in _cursorMoved.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
            {
                await TryStoreCursorAsync(_stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task TryStoreCursorAsync(CancellationToken cancellationToken)
    {
        var cursor = SafeCursor();
        if (cursor <= _storedCursor)
        {
            return;
        }

        try
        {
            await _runtime.Storage.WriteCursorAsync(_subscriber, cursor, cancellationToken).ConfigureAwait(false);
            _storedCursor = cursor;
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogCursorWriteFailed(_runtime.Logger, _subscriber, cursor, exception);
        }
    }

    /// <summary>Stops the workers (undelivered events stay after the cursor) and stores the cursor one last time.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        Task[] workers;
        lock (_gate)
        {
            workers = [.. _workers.Values.Select(worker => worker.Task)];
        }

        try
        {
            await Task.WhenAll(workers).ConfigureAwait(false);
            await _cursorLoop.ConfigureAwait(false);
        }
        finally
        {
            // Even after a worker failed: what is outstanding keeps the cursor below it.
            await TryStoreCursorAsync(CancellationToken.None).ConfigureAwait(false);
            _stop.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Delivering event {Sequence} to {GrainType}/{Key} failed (attempt {Attempt}); retrying in {Delay}")]
    private static partial void LogDeliveryFailed(ILogger logger, long sequence, string grainType, string key, int attempt, TimeSpan delay, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Parked event {Sequence} for {GrainType}/{Key} after {Attempts} failed deliveries; its stream moves on")]
    private static partial void LogEventParked(ILogger logger, long sequence, string grainType, string key, int attempts, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording parked event {Sequence} of {Subscriber} failed; retrying in {Delay}")]
    private static partial void LogParkingFailed(ILogger logger, long sequence, string subscriber, TimeSpan delay, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storing cursor {Sequence} of {Subscriber} failed; the next delivery retries")]
    private static partial void LogCursorWriteFailed(ILogger logger, string subscriber, long sequence, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading back the events of {Subscriber}/{Key} after {Sequence} failed; retrying in {Delay}")]
    private static partial void LogReadBackFailed(ILogger logger, string subscriber, string key, long sequence, TimeSpan delay, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Delivering the events of {Subscriber}/{Key} failed unexpectedly; the subscription starts again from its stored cursor")]
    private static partial void LogWorkerFailed(ILogger logger, string subscriber, string key, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading back the events of {Subscriber}/{Key} after {Sequence} (up to {Through}) found none; retrying")]
    private static partial void LogReplayFoundNothing(ILogger logger, string subscriber, string key, long sequence, long through);

    private enum Placement
    {
        Buffered,
        Noted,
        NeedsPermit,
    }

    /// <summary>One stream key's delivery; guarded by the run's lock.</summary>
    private sealed class Worker
    {
        /// <summary>Events waiting behind the one being delivered, each holding a permit of the run's budget.</summary>
        public Queue<StreamEvent> Queue { get; } = new();

        public Task Task { get; set; } = Task.CompletedTask;

        /// <summary>Whether the key's events are noted instead of buffered, until the replay has caught up.</summary>
        public bool Unbuffered { get; set; }

        /// <summary>
        /// The earliest unbuffered event not yet delivered (0 when none), kept in the outstanding set, so the cursor
        /// stays below it; during the replay, the event being delivered or the one delivered last.
        /// </summary>
        public long FirstUnbuffered { get; set; }

        /// <summary>The newest unbuffered event: the replay reads the log up to it.</summary>
        public long LastUnbuffered { get; set; }
    }
}
