using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Timers;

namespace Orchestration.Runtime.Core;

/// <summary>
/// One activation of one grain: its message queue, its turn loop and its lifecycle.
/// Every decision about what runs next is taken under the queue's lock; the work itself runs outside it.
/// </summary>
/// <remarks>
/// A non-interleaving activation runs each call to completion before the next starts, on whatever thread-pool thread
/// picked it up. An interleaving one (reentrant class or <see cref="AlwaysInterleaveAttribute"/> methods) starts calls
/// on its <see cref="ActivationTaskScheduler"/> so their continuations never overlap.
/// </remarks>
internal sealed partial class ActivationData : IGrainContext, IThreadPoolWorkItem
{
    private const int MaxCallsPerTurnLoop = 64;

    private readonly SiloRuntime _runtime;
    private readonly GrainClassInfo _class;
    private readonly Queue<IGrainMessage> _queue = new();
    private Queue<IGrainMessage>? _interleaving;
    private readonly ActivationTaskScheduler? _scheduler;
    private List<IGrainMessage>? _running;
    private List<IStateBinding>? _states;
    private List<EventDraft>? _outbox;
    private List<GrainTimer>? _timers;
    private Grain? _instance;
    private ActivationStatus _status;
    private DeactivationReason? _pendingDeactivation;
    private bool _pumpClaimed;
    private long _lastActiveAt;

    public ActivationData(SiloRuntime runtime, GrainClassInfo grainClass, GrainId grainId)
    {
        _runtime = runtime;
        _class = grainClass;
        GrainId = grainId;
        _scheduler = grainClass.RunsInterleaved ? new ActivationTaskScheduler() : null;
        _lastActiveAt = runtime.TimeProvider.GetTimestamp();
    }

    public GrainId GrainId { get; }

    public IGrainFactory GrainFactory => _runtime.GrainFactory;

    internal SiloRuntime Runtime => _runtime;

    private int RunningCount => _running?.Count ?? 0;

    /// <summary>Messages waiting; read without the lock, so approximate (it feeds a gauge).</summary>
    public int QueuedCount => _queue.Count + (_interleaving?.Count ?? 0);

    /// <summary>Queues a message. False when the activation is gone; the caller then sends it again.</summary>
    public bool TryEnqueue(IGrainMessage message)
    {
        bool schedule;
        lock (_queue)
        {
            if (_status == ActivationStatus.Invalid)
            {
                return false;
            }

            // An interleaving call on a non-reentrant grain waits apart, so it can pass calls blocked behind a running one.
            if (message.Method.AlwaysInterleave && !_class.IsReentrant)
            {
                (_interleaving ??= new Queue<IGrainMessage>()).Enqueue(message);
            }
            else
            {
                _queue.Enqueue(message);
            }

            schedule = TryClaimPump();
        }

        if (schedule)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        return true;
    }

    /// <summary>The turn loop: starts every message that may start now, then lets go of the pump.</summary>
    public void Execute()
    {
        for (var started = 0; ; started++)
        {
            IGrainMessage message;
            lock (_queue)
            {
                if (_status == ActivationStatus.Created)
                {
                    _status = ActivationStatus.Activating;
                    _ = ActivateAsync();
                    return;
                }

                if (_status == ActivationStatus.Valid && _pendingDeactivation is { } reason && RunningCount == 0)
                {
                    _status = ActivationStatus.Deactivating;
                    _ = DeactivateAsync(reason);
                    return;
                }

                if (!CanStartNext())
                {
                    _pumpClaimed = false;
                    return;
                }

                if (started == MaxCallsPerTurnLoop)
                {
                    // Keep the pump but go to the back of the thread pool's queue: one busy grain must not starve others.
                    ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                    return;
                }

                message = _interleaving is { Count: > 0 } ? _interleaving.Dequeue() : _queue.Dequeue();
                if (message.IsCompleted)
                {
                    continue; // timed out while queued
                }

                (_running ??= new List<IGrainMessage>(1)).Add(message);
            }

            if (message.Method.KeepsAlive)
            {
                _lastActiveAt = _runtime.TimeProvider.GetTimestamp();
            }

            if (_scheduler is null)
            {
                _ = RunAsync(message);
            }
            else
            {
                _ = _scheduler.Start(() => RunAsync(message));
            }
        }
    }

    private bool CanStartNext() =>
        _status == ActivationStatus.Valid
        && _pendingDeactivation is null
        && (_interleaving is { Count: > 0 } || (_queue.Count > 0 && (RunningCount == 0 || _class.IsReentrant)));

    /// <summary>Claims the right to run the turn loop if there is work and nobody holds it. Caller holds the lock.</summary>
    private bool TryClaimPump()
    {
        if (_pumpClaimed)
        {
            return false;
        }

        var hasWork = _status == ActivationStatus.Created
            || (_status == ActivationStatus.Valid && _pendingDeactivation is not null && RunningCount == 0)
            || CanStartNext();
        _pumpClaimed = hasWork;
        return hasWork;
    }

    private async Task RunAsync(IGrainMessage message)
    {
        var startedAt = _runtime.Instruments.CallsObserved ? Stopwatch.GetTimestamp() : 0;
        using var activity = RuntimeInstruments.StartCall(GrainId, message.Method);
        Task? call = null;
        Exception? failure = null;
        try
        {
            call = message.Method.Invoke(_instance!, message.Arguments);
            await call;
            if (_outbox is { Count: > 0 })
            {
                await CommitOutboxAsync();
            }
        }
        catch (Exception exception)
        {
            failure = exception;
            _outbox?.Clear(); // a failed call publishes nothing it did not already commit
            activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
        }

        if (startedAt != 0)
        {
            _runtime.Instruments.RecordCall(_class.TypeName, message.Method.Name, Stopwatch.GetElapsedTime(startedAt), failure is not null);
        }

        // Book-keeping first: when the caller resumes, the activation already counts this call as finished.
        OnCallFinished(message);
        if (failure is null)
        {
            message.CompleteFrom(call!);
        }
        else
        {
            message.Fail(failure);
        }
    }

    private void OnCallFinished(IGrainMessage message)
    {
        bool schedule;
        lock (_queue)
        {
            _running!.Remove(message);
            schedule = TryClaimPump();
        }

        if (schedule)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    private async Task ActivateAsync()
    {
        try
        {
            _instance = _class.Create(_runtime.Services, this);
            if (_states is not null)
            {
                await Task.WhenAll(_states.Select(state => state.ReadAsync()));
            }

            await _instance.OnActivateAsync(_runtime.ShutdownToken);
            _runtime.Instruments.ActivationCreated(_class.TypeName);
            bool schedule;
            lock (_queue)
            {
                _status = ActivationStatus.Valid;
                _pumpClaimed = false;
                schedule = TryClaimPump();
            }

            if (schedule)
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
        }
        catch (Exception exception)
        {
            LogActivationFailed(_runtime.Logger, GrainId, exception);
            foreach (var message in Invalidate())
            {
                message.Fail(exception);
            }
        }
    }

    private async Task DeactivateAsync(DeactivationReason reason)
    {
        try
        {
            if (_timers is not null)
            {
                foreach (var timer in _timers.ToArray())
                {
                    timer.Dispose();
                }
            }

            await _instance!.OnDeactivateAsync(reason, _runtime.ShutdownToken);
        }
        catch (Exception exception)
        {
            LogDeactivationFailed(_runtime.Logger, GrainId, reason, exception);
        }
        finally
        {
            _runtime.Instruments.ActivationRemoved(_class.TypeName);
            foreach (var message in Invalidate())
            {
                _runtime.Dispatcher.Deliver(GrainId, message);
            }
        }
    }

    /// <summary>Marks the activation gone, removes it from the directory and returns the messages it still held.</summary>
    private IGrainMessage[] Invalidate()
    {
        IGrainMessage[] leftovers;
        lock (_queue)
        {
            _status = ActivationStatus.Invalid;
            _pumpClaimed = false;
            leftovers = [.. _queue, .. _interleaving ?? []];
            _queue.Clear();
            _interleaving?.Clear();
        }

        _runtime.Directory.Remove(this);
        return leftovers;
    }

    /// <summary>Asks for deactivation once running calls finish; queued calls then go to a fresh activation.</summary>
    public void RequestDeactivation(DeactivationReason reason)
    {
        bool schedule;
        lock (_queue)
        {
            if (_status > ActivationStatus.Valid || _pendingDeactivation is not null)
            {
                return;
            }

            _pendingDeactivation = reason;
            schedule = TryClaimPump();
        }

        if (schedule)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>Fails calls that have waited longer than <paramref name="timeout"/>, and collects the activation if idle.</summary>
    public void Sweep(long now, TimeSpan timeout, TimeSpan idleAge)
    {
        var time = _runtime.TimeProvider;
        List<IGrainMessage>? expired = null;
        bool idle;
        lock (_queue)
        {
            if (_running is not null)
            {
                foreach (var message in _running)
                {
                    if (!message.IsCompleted && time.GetElapsedTime(message.SentAt, now) > timeout)
                    {
                        (expired ??= []).Add(message);
                    }
                }
            }

            foreach (var message in _interleaving is null ? _queue : _queue.Concat(_interleaving))
            {
                if (!message.IsCompleted && time.GetElapsedTime(message.SentAt, now) > timeout)
                {
                    (expired ??= []).Add(message);
                }
            }

            idle = _status == ActivationStatus.Valid && RunningCount == 0 && QueuedCount == 0
                && time.GetElapsedTime(_lastActiveAt, now) > idleAge;
        }

        if (expired is not null)
        {
            foreach (var message in expired)
            {
                message.Fail(new GrainCallTimeoutException(GrainId, message.Method.Name, timeout));
            }
        }

        if (idle)
        {
            RequestDeactivation(DeactivationReason.IdleCollection);
        }
    }

    public void DeactivateOnIdle() => RequestDeactivation(DeactivationReason.ApplicationRequested);

    public IPersistentState<TState> BindState<TState>(string stateName) where TState : new()
    {
        var state = new PersistentState<TState>(this, stateName);
        (_states ??= []).Add(state);
        return state;
    }

    /// <summary>Hands the events raised so far to a commit; they leave the outbox whether or not it succeeds.</summary>
    public IReadOnlyList<EventDraft> DrainOutbox()
    {
        if (_outbox is not { Count: > 0 })
        {
            return [];
        }

        var events = _outbox.ToArray();
        _outbox.Clear();
        return events;
    }

    internal void AddToOutbox(EventDraft draft) => (_outbox ??= []).Add(draft);

    private Task CommitOutboxAsync() => _runtime.Batcher.SubmitAsync(StorageWrite.EventsOnly(DrainOutbox()));

    public IGrainTimer RegisterGrainTimer(Func<CancellationToken, Task> callback, GrainTimerCreationOptions options)
    {
        var timer = new GrainTimer(this, callback, options);
        (_timers ??= []).Add(timer);
        timer.Start();
        return timer;
    }

    internal void RemoveTimer(GrainTimer timer) => _timers?.Remove(timer);

    public Task RegisterOrUpdateReminder(string reminderName, TimeSpan dueTime, TimeSpan period) =>
        _runtime.Reminders.RegisterAsync(GrainId, reminderName, dueTime, period);

    public Task UnregisterReminder(string reminderName) => _runtime.Reminders.UnregisterAsync(GrainId, reminderName);

    public IAsyncStream<T> GetStream<T>(StreamId streamId) => new GrainStream<T>(this, streamId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Activation of grain {GrainId} failed")]
    private static partial void LogActivationFailed(ILogger logger, GrainId grainId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deactivation of grain {GrainId} ({Reason}) failed")]
    private static partial void LogDeactivationFailed(ILogger logger, GrainId grainId, DeactivationReason reason, Exception exception);
}
