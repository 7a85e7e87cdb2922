using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Calls;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Reminders;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Timers;

namespace Orchestration.Runtime.Activations;

/// <summary>
/// One activation of one grain: its queues, its single-threaded turn loop and its lifecycle, split by concern over
/// <c>ActivationData.*.cs</c>: this file holds its state and what grain code asks of it (<see cref="IGrainContext"/>).
/// </summary>
/// <remarks>
/// The invariant, kept by the turn loop: at most one thread runs this activation's code at any moment, and no grain code
/// (constructor, state read, <c>OnActivateAsync</c>, calls, timers, <c>OnDeactivateAsync</c>) ever runs while the lock is
/// held. Every decision about what runs next is taken under the lock; the work itself runs outside it, inside a task of
/// the activation's <see cref="ActivationTaskScheduler"/>, so the grain's awaits come back to the same loop.
/// </remarks>
internal sealed partial class ActivationData : IGrainContext
{
    private readonly SiloRuntime _runtime;
    private readonly GrainClassInfo _class;
    private readonly ActivationTaskScheduler _scheduler;
    private readonly WriteFence? _fence;

    // Also the lock that guards every field below that the turn loop and other threads share.
    private readonly Queue<IGrainMessage> _queue = new();
    private Queue<IGrainMessage>? _interleaving;
    private Queue<Task>? _tasks;
    private List<IGrainMessage>? _running;
    private ActivationStatus _status;
    private DeactivationReason? _pendingDeactivation;
    private bool _pumpClaimed;
    private bool _overSoftLimit;
    // Calls held, running or waiting, per lane: what the overload limits count (see RequestsOfLaneLocked).
    private int _requests;
    private int _interleavingRequests;
    private bool _callsTurn;

    // Touched only by grain code and the lifecycle, which the turn loop runs one at a time.
    private List<IStateBinding>? _states;
    private List<GrainTimer>? _timers;
    private Grain? _instance;
    private long _lastActiveAt;

    public ActivationData(SiloRuntime runtime, GrainClassInfo grainClass, GrainId grainId, Clustering.PartitionLease? lease = null)
    {
        _runtime = runtime;
        _class = grainClass;
        GrainId = grainId;
        _scheduler = new ActivationTaskScheduler(this);
        _lastActiveAt = runtime.TimeProvider.GetTimestamp();
        _fence = lease is null ? null : new WriteFence(grainId, lease);
    }

    public GrainId GrainId { get; }

    public IGrainFactory GrainFactory => _runtime.GrainFactory;

    internal SiloRuntime Runtime => _runtime;

    /// <summary>The lease period this activation lives in (in a cluster whose ownership is leased).</summary>
    internal Clustering.PartitionLease? Lease => _fence?.Lease;

    /// <summary>Whether its lease period still serves (it may write): false outside a leased cluster.</summary>
    internal bool IsServingLease => _fence?.Lease.IsServing(_runtime.TimeProvider.GetTimestamp()) ?? false;

    /// <summary>Stamps a write of this activation with its lease period, so it commits only while that epoch is current.</summary>
    internal StorageWrite Fenced(StorageWrite write)
    {
        write.Fence = _fence;
        return write;
    }

    public void DeactivateOnIdle() => RequestDeactivation(DeactivationReason.ApplicationRequested);

    public IPersistentState<TState> BindState<TState>(string stateName) where TState : new()
    {
        var state = new PersistentState<TState>(this, stateName);
        (_states ??= []).Add(state);
        return state;
    }

    /// <summary>
    /// Hands what the current call raised so far (events, projection changes, reminder changes) to a commit; it leaves the call's outbox
    /// whether or not the commit succeeds. Only the calling call's: interleaved calls of this activation have outboxes of
    /// their own.
    /// </summary>
    public CallOutbox DrainOutbox() => CallContext.Current is { } call && call.Activation == this ? call.Drain() : CallOutbox.Empty;

    /// <summary>
    /// Adds an event to the current call's outbox. Outside a call of this activation (work a call left running after it
    /// finished) nothing would commit it later, so it commits on its own and the returned task completes when durable.
    /// </summary>
    internal Task AddToOutbox(EventDraft draft)
    {
        if (CallContext.Current is { IsFinished: false } call && call.Activation == this)
        {
            call.Add(draft);
            return Task.CompletedTask;
        }

        return _runtime.Batcher.SubmitAsync(Fenced(StorageWrite.EventsOnly([draft])));
    }

    /// <summary>
    /// Adds a projection change to the current call's outbox. Unlike an event (whose <c>OnNextAsync</c> returns a task to
    /// await), <see cref="Project"/> returns nothing, so outside a running call there would be no one to tell of a failed
    /// commit: that is refused instead of committed blind.
    /// </summary>
    private void AddToOutbox(ProjectionChange change)
    {
        if (CallContext.Current is not { IsFinished: false } call || call.Activation != this)
        {
            throw new InvalidOperationException(
                $"Grain {GrainId}: projections are set from a call, timer tick or activation step of the grain itself, not from work it left running.");
        }

        call.Add(change);
    }

    /// <summary>
    /// Adds a reminder change to the current call's outbox: it commits with the call's next state write (or at the end
    /// of the call), and reaches the schedule once committed. Outside a running call of this activation it commits on
    /// its own, and the returned task completes once it is durable and scheduled.
    /// </summary>
    private Task AddToOutbox(ReminderChange change)
    {
        if (CallContext.Current is { IsFinished: false } call && call.Activation == this)
        {
            call.Add(change);
            return Task.CompletedTask;
        }

        return _runtime.Reminders.CommitAsync(Fenced(StorageWrite.ReminderOnly(change)));
    }

    /// <summary>
    /// Commits what is left in the call's outbox, again if work the call left running (on this scheduler) raised more
    /// meanwhile, and ends the call in the same turn as its last look at the outbox: from then on, what that work raises
    /// commits on its own. Ended any later (a caller awaiting this resumes in a turn of its own, queued behind whatever
    /// that work queued), a raise could land between the last look and the end and stay in the outbox for good. The
    /// call's response is delivered only after this completes, so what the call raised is durable (and its reminder
    /// changes scheduled) before the caller hears back.
    /// </summary>
    private async Task CommitAndFinishAsync(CallContext call)
    {
        while (call.HasPending)
        {
            await _runtime.Reminders.CommitAsync(Fenced(StorageWrite.OutboxOnly(call.Drain())));
        }

        call.Finish(failed: false);
    }

    public IGrainTimer RegisterGrainTimer(Func<CancellationToken, Task> callback, GrainTimerCreationOptions options)
    {
        var timer = new GrainTimer(this, callback, options);
        (_timers ??= []).Add(timer);
        timer.Start();
        return timer;
    }

    internal void RemoveTimer(GrainTimer timer) => _timers?.Remove(timer);

    // Validation throws here, at the call site; the change then joins the call's outbox (or commits alone outside a call).
    public Task RegisterOrUpdateReminder(string reminderName, TimeSpan dueTime, TimeSpan period) =>
        AddToOutbox(_runtime.Reminders.Registration(GrainId, reminderName, dueTime, period));

    public Task UnregisterReminder(string reminderName)
    {
        ArgumentNullException.ThrowIfNull(reminderName);
        return AddToOutbox(ReminderService.Unregistration(GrainId, reminderName));
    }

    public IAsyncStream<T> GetStream<T>(StreamId streamId) => new GrainStream<T>(this, streamId);

    public void Project(ProjectionRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        ArgumentNullException.ThrowIfNull(row.Collection, nameof(row.Collection));
        ArgumentNullException.ThrowIfNull(row.Tenant, nameof(row.Tenant));
        ArgumentNullException.ThrowIfNull(row.Id, nameof(row.Id));
        ArgumentNullException.ThrowIfNull(row.Document, nameof(row.Document));
        AddToOutbox(ProjectionChange.Set(row));
    }

    public void RemoveProjection(string collection, string tenant, string id)
    {
        ArgumentNullException.ThrowIfNull(collection);
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(id);
        AddToOutbox(ProjectionChange.Remove(collection, tenant, id));
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Activation of grain {GrainId} failed")]
    private static partial void LogActivationFailed(ILogger logger, GrainId grainId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deactivation of grain {GrainId} ({Reason}) failed")]
    private static partial void LogDeactivationFailed(ILogger logger, GrainId grainId, DeactivationReason reason, Exception exception);

    [LoggerMessage(Level = LogLevel.Critical, Message = "The turn loop of grain {GrainId} failed")]
    private static partial void LogTurnLoopFailed(ILogger logger, GrainId grainId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grain {GrainId} holds {Requests} calls, running or waiting (soft limit {SoftLimit}); callers are outpacing it or calls wait long inside it")]
    private static partial void LogRequestsOverSoftLimit(ILogger logger, GrainId grainId, int requests, int softLimit);
}
