using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Clustering;
using Orchestration.Runtime.Persistence;

namespace Orchestration.Runtime.Reminders;

/// <summary>
/// Fires durable reminders. Registrations commit through the write batcher before they are scheduled — alone, or in a
/// grain call's state write or end-of-call commit (see <see cref="CommitAsync"/>); at start-up (and periodically, to see
/// other processes' changes) the stored reminders that fall due soon are loaded, so reminders survive restarts. A tick
/// is a call to <see cref="IRemindable.ReceiveReminder"/>; a failed tick is retried after a doubling delay (at most
/// <see cref="MaxRetryDelay"/>), a one-shot reminder is deleted once its tick succeeds unless the tick registered it
/// again (a delete that fails is retried the same way, without ticking again). One reminder never has two ticks running
/// at once; an overdue periodic reminder ticks once, not once per missed period.
/// </summary>
/// <remarks>
/// The schedule holds only what falls due within <see cref="ScheduleHorizon"/> (and every periodic reminder): a one-shot
/// set further ahead is stored at once but scheduled by a reload once it comes within reach, so neither the schedule
/// nor a reload grows with the reminders set hours ahead (one per idempotent request, kept a day, say). A reload comes
/// every <see cref="SiloOptions.ReminderReloadInterval"/>, half the horizon, so a reminder is scheduled at least one
/// interval before it falls due; if reloads keep failing meanwhile, it fires late, when one succeeds, never not at all.
/// </remarks>
internal sealed partial class ReminderService(SiloRuntime runtime) : IAsyncDisposable
{
    public static readonly TimeSpan FirstRetryDelay = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMinutes(5);

    private readonly Lock _gate = new();
    private readonly Dictionary<Key, Scheduled> _reminders = [];
    private readonly PriorityQueue<Scheduled, DateTimeOffset> _due = new();
    private readonly Dictionary<Key, Task> _firing = [];
    // A tick that fell due while an earlier tick of the same reminder was still running; it starts when that one ends.
    private readonly Dictionary<Key, Scheduled> _waiting = [];
    // The generation of each reminder's last local change (register, unregister, one-shot done). A reload whose read
    // began before that change cannot judge the reminder. Entries are dropped once a later reload began after them.
    private readonly Dictionary<Key, long> _changedAt = [];
    // Per reminder, the tail of a chain of mutations (commit, then update memory), so that the one-shot clean-up after a
    // tick never deletes a registration that is being committed at the same time. A grain write that carries changes
    // of several reminders is one mutation of each.
    private readonly Dictionary<Key, Task> _mutations = [];
    private readonly SemaphoreSlim _reloading = new(1, 1);
    private ITimer? _timer;
    private ITimer? _reload;
    // When the reload timer fires next, whether a failed commit still waits for a reload that succeeds (see
    // ReloadSoon), and how soon a reload is tried again, doubling while reloads fail. Guarded by _gate.
    private DateTimeOffset _nextReloadAt = DateTimeOffset.MaxValue;
    private long _reloadsOwed; // failed commits so far; a reload pays for those before its read began
    private long _reloadsPaid;
    private TimeSpan _reloadRetryDelay = FirstRetryDelay;
    private long _generation;
    private Task _reloadRunning = Task.CompletedTask; // the latest periodic or owed reload, for WhenIdleAsync

    private TimeProvider Time => runtime.TimeProvider;

    /// <summary>How far ahead the schedule holds one-shot reminders: two reload intervals.</summary>
    internal TimeSpan ScheduleHorizon => runtime.Options.ReminderReloadInterval * 2;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _timer = Time.CreateTimer(static state => ((ReminderService)state!).OnDue(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        await ReloadAsync(cancellationToken);
        lock (_gate)
        {
            // A take-over may have scheduled reminders before the timer existed (a silo in a cluster takes its partitions
            // before this starts), and the reload above leaves entries it already has alone, so nothing else arms it.
            ArmLocked();
        }

        var interval = runtime.Options.ReminderReloadInterval;
        lock (_gate)
        {
            _reload = Time.CreateTimer(static state => ((ReminderService)state!).StartReload(), this, interval, interval);
            _nextReloadAt = Time.GetUtcNow() + interval;
            if (_reloadsOwed > _reloadsPaid)
            {
                ReloadBeforeLocked(_reloadRetryDelay); // a commit failed while the service was starting
            }
        }
    }

    /// <summary>
    /// Validates a registration and returns the change to commit; it is scheduled once a write carrying it commits
    /// (<see cref="CommitAsync"/>). Throws here, at the call site, for bad arguments or a grain that is not remindable.
    /// </summary>
    public ReminderChange Registration(GrainId grainId, string name, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(dueTime, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(period, TimeSpan.Zero);
        if (period > TimeSpan.Zero && period < TimeSpan.FromMicroseconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(period), period, "A period must be zero or at least one microsecond.");
        }

        if (!typeof(IRemindable).IsAssignableFrom(runtime.Registry.GetClass(grainId.Type).ClassType))
        {
            throw new InvalidOperationException($"Grain {grainId} registers a reminder but does not implement {nameof(IRemindable)}.");
        }

        return new ReminderChange(grainId, name, new ReminderEntry(grainId, name, Time.GetUtcNow() + dueTime, period));
    }

    /// <summary>The change that removes a reminder; unscheduled once a write carrying it commits.</summary>
    public static ReminderChange Unregistration(GrainId grainId, string name) => new(grainId, name, Upsert: null);

    /// <summary>Registers a reminder on its own: completes once it is durable and (when due within the horizon) scheduled.</summary>
    public Task RegisterAsync(GrainId grainId, string name, TimeSpan dueTime, TimeSpan period) =>
        CommitAsync(StorageWrite.ReminderOnly(Registration(grainId, name, dueTime, period)));

    /// <summary>Removes a reminder on its own: completes once the removal is durable and unscheduled.</summary>
    public Task UnregisterAsync(GrainId grainId, string name) => CommitAsync(StorageWrite.ReminderOnly(Unregistration(grainId, name)));

    /// <summary>
    /// Commits <paramref name="write"/> through the write batcher. When it carries reminder changes, it commits as one
    /// mutation of each reminder it touches (after their earlier mutations, before their later ones, so storage and
    /// schedule see the same order), and only once it has committed — not on a conflict, not on a failure — are its
    /// changes applied to the schedule, in order, before this completes.
    /// </summary>
    public async Task CommitAsync(StorageWrite write)
    {
        if (write.Reminders.Count == 0)
        {
            await runtime.Batcher.SubmitAsync(write);
            return;
        }

        await using (await MutateAsync(write.Reminders.Select(change => new Key(change.GrainId, change.Name))))
        {
            try
            {
                await runtime.Batcher.SubmitAsync(write);
            }
            catch (Exception exception) when (exception is not GrainOwnershipLostException && !runtime.ShutdownToken.IsCancellationRequested)
            {
                // A failed commit may have committed all the same (a timeout, a connection lost after the commit was
                // sent): the schedule would then lag storage until the next reload, a lease's expiry that long late.
                // (A write refused for lost ownership, or not taken by a stopping silo, stored nothing.)
                ReloadSoon();
                throw;
            }

            if (write.Conflict)
            {
                return;
            }

            lock (_gate)
            {
                foreach (var change in write.Reminders)
                {
                    var key = new Key(change.GrainId, change.Name);
                    if (change.Upsert is { } entry && IsDueBy(entry, Time.GetUtcNow() + ScheduleHorizon))
                    {
                        // Always a new schedule, even for an identical entry: a tick that re-registers its reminder must see it.
                        ScheduleLocked(entry);
                        _changedAt[key] = _generation;
                    }
                    else
                    {
                        // Unregistered, or set beyond the horizon (a reload schedules it once it comes within reach).
                        RemoveLocked(key);
                        _changedAt[key] = ++_generation;
                    }
                }
            }
        }
    }

    /// <summary>When the reminder next fires, or null when this silo has not scheduled it.</summary>
    public DateTimeOffset? NextDueAt(GrainId grainId, string name)
    {
        lock (_gate)
        {
            return _reminders.TryGetValue(new Key(grainId, name), out var scheduled) ? scheduled.NextDueAt : null;
        }
    }

    /// <summary>
    /// Completes when every tick started so far has finished, including its storage writes and rescheduling, and the
    /// reload the clock last started (it may schedule a reminder that comes within reach), so tests can assert right
    /// after moving a fake clock that no tick happened, and move it on knowing what is scheduled.
    /// </summary>
    internal async Task WhenIdleAsync()
    {
        while (true)
        {
            Task[] firing;
            lock (_gate)
            {
                firing = _reloadRunning.IsCompleted ? [.. _firing.Values] : [.. _firing.Values, _reloadRunning];
            }

            if (firing.Length == 0)
            {
                return;
            }

            await Task.WhenAll(firing);
        }
    }

    /// <summary>
    /// Completes when the ticks firing now for grains of <paramref name="partitions"/> have ended, their completion (a
    /// one-shot's delete) included. Ticks that start later in a partition this silo no longer accepts do not fire here.
    /// </summary>
    internal Task TicksEndedAsync(IReadOnlySet<int> partitions)
    {
        lock (_gate)
        {
            return Task.WhenAll(_firing.Where(pair => partitions.Contains(ClusterPartitions.Of(pair.Key.GrainId))).Select(pair => pair.Value).ToList());
        }
    }

    /// <summary>Brings the schedule in line with storage: adds and updates what others registered, drops what they deleted.</summary>
    internal async Task ReloadAsync(CancellationToken cancellationToken)
    {
        // One reload at a time: each forgets the local changes older than its read, which an overlapping older read still needs.
        await _reloading.WaitAsync(cancellationToken);
        try
        {
            long startedAt;
            lock (_gate)
            {
                startedAt = _generation;
            }

            var dueBy = Time.GetUtcNow() + ScheduleHorizon;
            var stored = await runtime.Storage.ReadRemindersAsync(dueBy, cancellationToken);
            // Reminders of grain types this silo does not host (or that cannot receive them) are left to others.
            var known = stored.Where(entry => runtime.Registry.TryGetClass(entry.GrainId.Type, out var grainClass)
                && typeof(IRemindable).IsAssignableFrom(grainClass.ClassType)).ToList();
            var keys = known.Select(entry => new Key(entry.GrainId, entry.Name)).ToHashSet();
            lock (_gate)
            {
                // A reminder with a mutation in flight is that mutation's to apply: its commit may be what this read saw,
                // and scheduling it here too would tick it twice. (A mutation that fails owes a reload of its own.)
                bool ChangedSinceRead(Key key) =>
                    (_changedAt.TryGetValue(key, out var changed) && changed > startedAt) || _mutations.ContainsKey(key);

                foreach (var entry in known)
                {
                    var key = new Key(entry.GrainId, entry.Name);
                    if (!ChangedSinceRead(key) && !(_reminders.TryGetValue(key, out var existing) && existing.Entry == entry))
                    {
                        ScheduleLocked(entry);
                    }
                }

                // Only what the read would have returned can be missing from it.
                foreach (var gone in _reminders.Where(pair => pair.Value.Generation <= startedAt && IsDueBy(pair.Value.Entry, dueBy)
                        && !keys.Contains(pair.Key) && !ChangedSinceRead(pair.Key))
                    .Select(pair => pair.Key).ToList())
                {
                    RemoveLocked(gone);
                }

                foreach (var seen in _changedAt.Where(pair => pair.Value <= startedAt).Select(pair => pair.Key).ToList())
                {
                    _changedAt.Remove(seen);
                }
            }
        }
        finally
        {
            _reloading.Release();
        }
    }

    /// <summary>
    /// This silo now owns the <paramref name="periods"/>' partitions (a failover or a rebalance): learns their reminders
    /// from storage (the previous owner may have registered, ticked or unregistered them since this silo's last reload),
    /// and brings forward those it had put off because another silo owned them, so a reminder due on a silo that died
    /// fires here now, not a reload interval later. A one-shot that is still stored has not completed, so it fires (at
    /// least once, as reminders do); a periodic reminder's latest tick is fired again only for partitions taken from a
    /// lapsed lease (<paramref name="failedOver"/>): an owner that handed its partitions over had ticked it.
    /// </summary>
    /// <remarks>
    /// Until this has read storage, none of the partitions' reminders fires (<see cref="PartitionLease.RemindersTakenOver"/>):
    /// what this silo holds of them may be what the previous owner has since deleted. So a failed read is tried again,
    /// after a doubling delay, until one succeeds or every period has ended.
    /// </remarks>
    public async Task TakeOverAsync(IReadOnlyList<PartitionLease> periods, IReadOnlyCollection<int> failedOver, CancellationToken cancellationToken)
    {
        for (var delay = FirstRetryDelay; ; delay = DoubledReloadDelay(delay))
        {
            try
            {
                await ReloadAsync(cancellationToken);
                break;
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
            {
                if (periods.All(period => period.HasEnded))
                {
                    return;
                }

                LogTakeOverFailed(runtime.Logger, periods.Count, exception);
                await Task.Delay(delay, Time, cancellationToken);
            }
        }

        var owned = periods.Select(period => period.Partition).ToHashSet();
        var lapsed = failedOver.ToHashSet();
        lock (_gate)
        {
            var now = Time.GetUtcNow();
            foreach (var scheduled in _reminders.Values.ToList())
            {
                var partition = ClusterPartitions.Of(scheduled.Entry.GrainId);
                if (owned.Contains(partition) && (scheduled.Entry.Period == TimeSpan.Zero || lapsed.Contains(partition))
                    && scheduled.NextDueAt > FirstTickFrom(scheduled.Entry, now))
                {
                    ScheduleLocked(scheduled.Entry);
                }
            }
        }

        foreach (var period in periods)
        {
            period.MarkRemindersTakenOver();
        }
    }

    private void ScheduleLocked(ReminderEntry entry)
    {
        var key = new Key(entry.GrainId, entry.Name);
        if (_reminders.TryGetValue(key, out var existing))
        {
            existing.Removed = true;
        }

        var scheduled = new Scheduled(entry) { NextDueAt = FirstTickFrom(entry, Time.GetUtcNow()), Generation = ++_generation };
        _reminders[key] = scheduled;
        _due.Enqueue(scheduled, scheduled.NextDueAt);
        ArmLocked();
    }

    private void RemoveLocked(Key key)
    {
        if (_reminders.Remove(key, out var scheduled))
        {
            scheduled.Removed = true;
        }
    }

    private void ArmLocked()
    {
        while (_due.TryPeek(out var next, out var dueAt))
        {
            if (next.Removed)
            {
                _due.Dequeue();
                continue;
            }

            var delay = dueAt - Time.GetUtcNow();
            _timer?.Change(delay < TimeSpan.Zero ? TimeSpan.Zero : delay, Timeout.InfiniteTimeSpan);
            return;
        }
    }

    private void OnDue()
    {
        var ready = new List<(Scheduled Scheduled, TaskCompletionSource Done)>();
        lock (_gate)
        {
            var now = Time.GetUtcNow();
            while (_due.TryPeek(out var next, out var dueAt) && dueAt <= now)
            {
                _due.Dequeue();
                if (next.Removed)
                {
                    continue;
                }

                if (_firing.ContainsKey(next.Key))
                {
                    _waiting[next.Key] = next;
                    continue;
                }

                // Registered as running before the tick starts, so WhenIdleAsync sees it as soon as the clock has moved.
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _firing[next.Key] = done.Task;
                ready.Add((next, done));
            }

            ArmLocked();
        }

        foreach (var (scheduled, done) in ready)
        {
            _ = RunTickAsync(scheduled, done);
        }
    }

    private async Task RunTickAsync(Scheduled scheduled, TaskCompletionSource done)
    {
        try
        {
            await FireAsync(scheduled);
        }
        catch (Exception exception)
        {
            LogTickFailed(runtime.Logger, scheduled.Entry.Name, scheduled.Entry.GrainId, exception);
        }
        finally
        {
            lock (_gate)
            {
                _firing.Remove(scheduled.Key);
                if (_waiting.Remove(scheduled.Key, out var next) && !next.Removed)
                {
                    _due.Enqueue(next, next.NextDueAt);
                    ArmLocked();
                }
            }

            done.SetResult();
        }
    }

    private async Task FireAsync(Scheduled scheduled)
    {
        var entry = scheduled.Entry;
        // With leased ownership the tick belongs to the lease period it starts in; its completion is fenced by it.
        var lease = runtime.Router is { LeasesOwnership: true } leased ? leased.LeaseFor(entry.GrainId) : null;
        if (runtime.Router is { } router && (router.LeasesOwnership ? lease is null : !router.IsLocal(runtime, entry.GrainId)))
        {
            // The owner ticks it. A one-shot is looked at again after a reload, by when the owner has usually deleted it;
            // if not (the owner is gone), this silo may own it by then.
            var now = Time.GetUtcNow();
            Reschedule(scheduled, entry.Period == TimeSpan.Zero ? now + runtime.Options.ReminderReloadInterval : NextTickAfter(entry, now));
            return;
        }

        if (lease is { RemindersTakenOver: false })
        {
            // Owned since a moment ago, and this copy may be stale: the take-over's read of storage decides (it schedules
            // again what it keeps). Looked at again shortly, should the reminder still be as it is.
            Reschedule(scheduled, Time.GetUtcNow() + FirstRetryDelay);
            return;
        }

        if (!scheduled.Ticked)
        {
            var tick = new TickStatus(entry.FirstDueAt, entry.Period, scheduled.NextDueAt);
            try
            {
                await runtime.GrainFactory.GetGrain<IRemindable>(entry.GrainId).ReceiveReminder(entry.Name, tick);
            }
            catch (Exception exception)
            {
                LogTickFailed(runtime.Logger, entry.Name, entry.GrainId, exception);
                scheduled.Failures++;
                Reschedule(scheduled, RetryAt(scheduled, Time.GetUtcNow()));
                return;
            }

            scheduled.Failures = 0;
        }

        if (entry.Period == TimeSpan.Zero)
        {
            try
            {
                if (await CompleteOneShotAsync(scheduled, lease))
                {
                    return;
                }
            }
            catch (Exception exception)
            {
                LogOneShotDeleteFailed(runtime.Logger, entry.Name, entry.GrainId, exception);
            }

            // The tick succeeded; only its delete is left, tried again without ticking again on this schedule. (Left
            // unscheduled, it would stay stored and never fire nor go: a reload keeps an entry it already has.)
            scheduled.Ticked = true;
            scheduled.Failures++;
            Reschedule(scheduled, RetryAt(scheduled, Time.GetUtcNow()));
            return;
        }

        Reschedule(scheduled, NextTickAfter(entry, Time.GetUtcNow()));
    }

    /// <summary>
    /// Deletes a one-shot reminder whose tick succeeded. False when it could not be deleted now because the partition's
    /// lease is not serving (its renewal is late): it must be tried again.
    /// </summary>
    private async Task<bool> CompleteOneShotAsync(Scheduled scheduled, PartitionLease? lease)
    {
        await using (await MutateAsync(scheduled.Key))
        {
            lock (_gate)
            {
                // Re-registered (or unregistered) during the tick: that change is already stored and must stay.
                if (!_reminders.TryGetValue(scheduled.Key, out var current) || current != scheduled)
                {
                    return true;
                }
            }

            var delete = StorageWrite.ReminderOnly(new ReminderChange(scheduled.Entry.GrainId, scheduled.Entry.Name, Upsert: null));
            if (lease is not null)
            {
                // Fenced like the grain's own writes, by the period the tick ran in: if the partition moved on, the new
                // owner's registration of this reminder (made in its own tick) must not be deleted by this one. A period
                // that is handing its partition over still serves (the hand-over waits for this), so a tick that
                // completed during a join or a leave is deleted here instead of firing again on the next owner.
                if (!lease.IsServing(Time.GetTimestamp()))
                {
                    return false;
                }

                delete.Fence = new WriteFence(scheduled.Entry.GrainId, lease);
            }

            await runtime.Batcher.SubmitAsync(delete);
            lock (_gate)
            {
                if (_reminders.TryGetValue(scheduled.Key, out var current) && current == scheduled)
                {
                    RemoveLocked(scheduled.Key);
                }

                _changedAt[scheduled.Key] = ++_generation;
            }

            return true;
        }
    }

    private void Reschedule(Scheduled scheduled, DateTimeOffset dueAt)
    {
        lock (_gate)
        {
            if (scheduled.Removed)
            {
                return;
            }

            scheduled.NextDueAt = dueAt;
            _due.Enqueue(scheduled, dueAt);
            ArmLocked();
        }
    }

    /// <summary>Doubling from <see cref="FirstRetryDelay"/> up to <see cref="MaxRetryDelay"/>, and never after the next regular tick.</summary>
    private static DateTimeOffset RetryAt(Scheduled scheduled, DateTimeOffset now)
    {
        var doublings = Math.Min(scheduled.Failures - 1, 30);
        var delay = TimeSpan.FromTicks(Math.Min(FirstRetryDelay.Ticks << doublings, MaxRetryDelay.Ticks));
        var retryAt = now + delay;
        return scheduled.Entry.Period == TimeSpan.Zero ? retryAt : Min(retryAt, NextTickAfter(scheduled.Entry, now));
    }

    /// <summary>Whether the schedule holds <paramref name="entry"/> when it holds what falls due by <paramref name="dueBy"/>.</summary>
    private static bool IsDueBy(ReminderEntry entry, DateTimeOffset dueBy) => entry.Period > TimeSpan.Zero || entry.FirstDueAt <= dueBy;

    /// <summary>The first due time, or for an overdue periodic reminder its latest missed tick: it ticks once, now.</summary>
    private static DateTimeOffset FirstTickFrom(ReminderEntry entry, DateTimeOffset now)
    {
        if (entry.FirstDueAt >= now || entry.Period == TimeSpan.Zero)
        {
            return entry.FirstDueAt;
        }

        var missed = (now - entry.FirstDueAt).Ticks / entry.Period.Ticks;
        return entry.FirstDueAt + TimeSpan.FromTicks(entry.Period.Ticks * missed);
    }

    /// <summary>The first tick strictly after <paramref name="now"/> of a periodic reminder.</summary>
    private static DateTimeOffset NextTickAfter(ReminderEntry entry, DateTimeOffset now)
    {
        if (entry.FirstDueAt > now)
        {
            return entry.FirstDueAt;
        }

        var periods = (now - entry.FirstDueAt).Ticks / entry.Period.Ticks + 1;
        return entry.FirstDueAt + TimeSpan.FromTicks(entry.Period.Ticks * periods);
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a <= b ? a : b;

    /// <summary>Waits for the reminder's earlier mutations; disposing the result lets the next one run.</summary>
    private Task<IAsyncDisposable> MutateAsync(Key key) => MutateAsync([key]);

    /// <summary>
    /// One mutation of several reminders: it joins each one's chain at once (under the lock, so every mutation holds the
    /// same place in every chain it joins and no two can wait on each other), then waits for the earlier ones.
    /// </summary>
    private async Task<IAsyncDisposable> MutateAsync(IEnumerable<Key> keys)
    {
        var turn = new Turn(this, [.. keys.Distinct()]);
        var previous = new List<Task>(turn.Keys.Count);
        lock (_gate)
        {
            foreach (var key in turn.Keys)
            {
                if (_mutations.TryGetValue(key, out var tail))
                {
                    previous.Add(tail);
                }

                _mutations[key] = turn.Ended;
            }
        }

        await Task.WhenAll(previous);
        return turn;
    }

    /// <summary>
    /// Owes a reload to a commit that failed: the next one comes within <see cref="FirstRetryDelay"/> (or the owed try's
    /// back-off), never later than already planned, so failures in a burst share it and cannot keep putting it off;
    /// the debt is paid only by a reload that succeeds.
    /// </summary>
    private void ReloadSoon()
    {
        lock (_gate)
        {
            _reloadsOwed++;
            ReloadBeforeLocked(_reloadRetryDelay);
        }
    }

    private void ReloadBeforeLocked(TimeSpan delay)
    {
        var at = Time.GetUtcNow() + delay;
        if (_reload is not null && at < _nextReloadAt)
        {
            _nextReloadAt = at;
            _reload.Change(delay, runtime.Options.ReminderReloadInterval);
        }
    }

    /// <summary>The next try of a failed read of the reminders: twice as late, never later than the periodic reload.</summary>
    private TimeSpan DoubledReloadDelay(TimeSpan delay) => TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, runtime.Options.ReminderReloadInterval.Ticks));

    private void StartReload()
    {
        // Its failures are logged inside; only a stopping silo's cancellation gets out, and nobody needs to see that.
        var reload = ReloadSafelyAsync().ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        lock (_gate)
        {
            _reloadRunning = reload;
        }
    }

    private async Task ReloadSafelyAsync()
    {
        long owed;
        lock (_gate)
        {
            _nextReloadAt = Time.GetUtcNow() + runtime.Options.ReminderReloadInterval;
            owed = _reloadsOwed;
        }

        try
        {
            await ReloadAsync(runtime.ShutdownToken);
            lock (_gate)
            {
                _reloadsPaid = Math.Max(_reloadsPaid, owed);
                _reloadRetryDelay = FirstRetryDelay;
                if (_reloadsOwed > _reloadsPaid)
                {
                    ReloadBeforeLocked(_reloadRetryDelay); // a commit failed while this reload was reading
                }
            }
        }
        catch (Exception exception) when (!runtime.ShutdownToken.IsCancellationRequested)
        {
            // Tried again soon, owed or not: reloads are what schedule the reminders that come within reach.
            LogReloadFailed(runtime.Logger, exception);
            lock (_gate)
            {
                _reloadRetryDelay = DoubledReloadDelay(_reloadRetryDelay);
                ReloadBeforeLocked(_reloadRetryDelay);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_reload is not null)
        {
            await _reload.DisposeAsync();
        }

        if (_timer is not null)
        {
            await _timer.DisposeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reminder {Name} of grain {GrainId} failed; retrying")]
    private static partial void LogTickFailed(ILogger logger, string name, GrainId grainId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "One-shot reminder {Name} of grain {GrainId} ticked but could not be deleted; retrying the delete")]
    private static partial void LogOneShotDeleteFailed(ILogger logger, string name, GrainId grainId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Taking over the reminders of {Count} partitions failed; retrying (until then none of them fires here)")]
    private static partial void LogTakeOverFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reloading reminders from storage failed")]
    private static partial void LogReloadFailed(ILogger logger, Exception exception);

    private readonly record struct Key(GrainId GrainId, string Name);

    private sealed class Scheduled(ReminderEntry entry)
    {
        public ReminderEntry Entry { get; } = entry;

        public Key Key { get; } = new(entry.GrainId, entry.Name);

        public DateTimeOffset NextDueAt { get; set; }

        public bool Removed { get; set; }

        public long Generation { get; init; }

        /// <summary>Failed ticks in a row (for a one-shot that ticked, failed deletes); only the reminder's own tick touches it.</summary>
        public int Failures { get; set; }

        /// <summary>A one-shot whose tick succeeded and whose delete is still to be done: its retries only delete.</summary>
        public bool Ticked { get; set; }
    }

    private sealed class Turn(ReminderService owner, IReadOnlyList<Key> keys) : IAsyncDisposable
    {
        private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IReadOnlyList<Key> Keys { get; } = keys;

        public Task Ended => _ended.Task;

        public ValueTask DisposeAsync()
        {
            lock (owner._gate)
            {
                foreach (var key in Keys)
                {
                    if (owner._mutations.TryGetValue(key, out var tail) && tail == Ended)
                    {
                        owner._mutations.Remove(key);
                    }
                }
            }

            _ended.SetResult();
            return ValueTask.CompletedTask;
        }
    }
}
