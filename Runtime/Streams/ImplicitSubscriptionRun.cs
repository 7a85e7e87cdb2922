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
internal sealed partial class ImplicitSubscriptionRun : IAsyncDisposable
{
    private readonly SiloRuntime _runtime;
    private readonly GrainClassInfo _grainClass;
    private readonly string _subscriber;
    private readonly CancellationTokenSource _stop;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Worker> _workers = [];
    private readonly SortedSet<long> _outstanding = [];

    // Bounds the events read but not yet delivered, so a stuck stream cannot make the others buffer without limit.
    private readonly SemaphoreSlim _capacity;
    private readonly Channel<bool> _cursorMoved = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Task _cursorLoop;
    private long _lastAccepted;
    private long _storedCursor;

    public ImplicitSubscriptionRun(SiloRuntime runtime, GrainClassInfo grainClass, string subscriber, long cursor, CancellationToken stop)
    {
        _runtime = runtime;
        _grainClass = grainClass;
        _subscriber = subscriber;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(stop);
        _capacity = new SemaphoreSlim(runtime.Options.SubscriberBufferSize);
        _lastAccepted = cursor;
        _storedCursor = cursor;
        _cursorLoop = Task.Run(StoreCursorAsync, CancellationToken.None);
    }

    /// <summary>Hands events (in sequence order) to their streams' workers; waits while too many are undelivered.</summary>
    public async Task AcceptAsync(IReadOnlyList<StreamEvent> events, CancellationToken cancellationToken)
    {
        foreach (var streamEvent in events)
        {
            await _capacity.WaitAsync(cancellationToken).ConfigureAwait(false);
            var key = streamEvent.StreamId.Key;
            lock (_gate)
            {
                _outstanding.Add(streamEvent.Sequence);
                _lastAccepted = streamEvent.Sequence;
                if (_workers.TryGetValue(key, out var worker))
                {
                    worker.Queue.Enqueue(streamEvent);
                    continue;
                }

                worker = new Worker();
                _workers.Add(key, worker);
                worker.Task = Task.Run(() => RunWorkerAsync(key, worker, streamEvent), CancellationToken.None);
            }
        }
    }

    private async Task RunWorkerAsync(string key, Worker worker, StreamEvent first)
    {
        var consumer = _runtime.GrainFactory.GetGrain<IStreamConsumerGrain>(new GrainId(_grainClass.TypeName, key));
        var next = first;
        while (true)
        {
            try
            {
                await DeliverOrParkAsync(consumer, key, next, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return; // the event stays outstanding: the cursor does not pass it
            }

            bool more;
            lock (_gate)
            {
                _outstanding.Remove(next.Sequence);
                more = worker.Queue.TryDequeue(out next!);
                if (!more)
                {
                    _workers.Remove(key);
                }
            }

            _capacity.Release();
            _cursorMoved.Writer.TryWrite(true);
            if (!more)
            {
                return;
            }
        }
    }

    private async Task DeliverOrParkAsync(IStreamConsumerGrain consumer, string key, StreamEvent streamEvent, CancellationToken stop)
    {
        var options = _runtime.Options;
        for (var attempt = 1; ; attempt++)
        {
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

                var delay = ImplicitStreamDelivery.RetryDelay(attempt, options.StreamDeliveryRetryDelay, options.StreamDeliveryMaxRetryDelay);
                LogDeliveryFailed(_runtime.Logger, streamEvent.Sequence, _grainClass.TypeName, key, attempt, delay, exception);
                await Task.Delay(delay, _runtime.TimeProvider, stop).ConfigureAwait(false);
            }
        }
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

        await Task.WhenAll(workers).ConfigureAwait(false);
        await _cursorLoop.ConfigureAwait(false);
        await TryStoreCursorAsync(CancellationToken.None).ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Delivering event {Sequence} to {GrainType}/{Key} failed (attempt {Attempt}); retrying in {Delay}")]
    private static partial void LogDeliveryFailed(ILogger logger, long sequence, string grainType, string key, int attempt, TimeSpan delay, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Parked event {Sequence} for {GrainType}/{Key} after {Attempts} failed deliveries; its stream moves on")]
    private static partial void LogEventParked(ILogger logger, long sequence, string grainType, string key, int attempts, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording parked event {Sequence} of {Subscriber} failed; retrying in {Delay}")]
    private static partial void LogParkingFailed(ILogger logger, long sequence, string subscriber, TimeSpan delay, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storing cursor {Sequence} of {Subscriber} failed; the next delivery retries")]
    private static partial void LogCursorWriteFailed(ILogger logger, string subscriber, long sequence, Exception exception);

    /// <summary>The events of one stream key waiting behind the one being delivered; guarded by the run's lock.</summary>
    private sealed class Worker
    {
        public Queue<StreamEvent> Queue { get; } = new();

        public Task Task { get; set; } = Task.CompletedTask;
    }
}
