using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Persistence;

namespace Orchestration.Runtime.Reminders;

/// <summary>
/// Fires durable reminders. Registrations commit through the write batcher before they are scheduled; at start-up
/// (and periodically, to see other processes' changes) every stored reminder is loaded, so reminders survive restarts.
/// A tick is a call to <see cref="IRemindable.ReceiveReminder"/>; a failed tick is retried, a one-shot reminder is
/// deleted once its tick succeeds.
/// </summary>
internal sealed partial class ReminderService(SiloRuntime runtime) : IAsyncDisposable
{
    private static readonly TimeSpan s_retryDelay = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private readonly Dictionary<(GrainId GrainId, string Name), Scheduled> _reminders = [];
    private readonly PriorityQueue<Scheduled, DateTimeOffset> _due = new();
    private ITimer? _timer;
    private ITimer? _reload;
    private long _generation;

    private TimeProvider Time => runtime.TimeProvider;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _timer = Time.CreateTimer(static state => ((ReminderService)state!).OnDue(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        await ReloadAsync(cancellationToken);
        var interval = runtime.Options.ReminderReloadInterval;
        _reload = Time.CreateTimer(static state => _ = ((ReminderService)state!).ReloadSafelyAsync(), this, interval, interval);
    }

    public async Task RegisterAsync(GrainId grainId, string name, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(dueTime, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(period, TimeSpan.Zero);
        if (!typeof(IRemindable).IsAssignableFrom(runtime.Registry.GetClass(grainId.Type).ClassType))
        {
            throw new InvalidOperationException($"Grain {grainId} registers a reminder but does not implement {nameof(IRemindable)}.");
        }

        var entry = new ReminderEntry(grainId, name, Time.GetUtcNow() + dueTime, period);
        await runtime.Batcher.SubmitAsync(StorageWrite.ReminderOnly(new ReminderChange(grainId, name, entry)));
        Schedule(entry);
    }

    public async Task UnregisterAsync(GrainId grainId, string name)
    {
        await runtime.Batcher.SubmitAsync(StorageWrite.ReminderOnly(new ReminderChange(grainId, name, Upsert: null)));
        lock (_gate)
        {
            if (_reminders.Remove((grainId, name), out var scheduled))
            {
                scheduled.Removed = true;
            }
        }
    }

    /// <summary>When the reminder next fires, or null when this silo has not scheduled it.</summary>
    public DateTimeOffset? NextDueAt(GrainId grainId, string name)
    {
        lock (_gate)
        {
            return _reminders.TryGetValue((grainId, name), out var scheduled) ? scheduled.NextDueAt : null;
        }
    }

    private void Schedule(ReminderEntry entry)
    {
        lock (_gate)
        {
            if (_reminders.TryGetValue((entry.GrainId, entry.Name), out var existing))
            {
                if (existing.Entry == entry)
                {
                    return;
                }

                existing.Removed = true;
            }

            var scheduled = new Scheduled(entry) { NextDueAt = entry.FirstDueAt, Generation = ++_generation };
            _reminders[(entry.GrainId, entry.Name)] = scheduled;
            _due.Enqueue(scheduled, scheduled.NextDueAt);
            ArmLocked();
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
        var ready = new List<Scheduled>();
        lock (_gate)
        {
            var now = Time.GetUtcNow();
            while (_due.TryPeek(out var next, out var dueAt) && dueAt <= now)
            {
                _due.Dequeue();
                if (!next.Removed)
                {
                    ready.Add(next);
                }
            }

            ArmLocked();
        }

        foreach (var scheduled in ready)
        {
            _ = FireAsync(scheduled);
        }
    }

    private async Task FireAsync(Scheduled scheduled)
    {
        var entry = scheduled.Entry;
        if (runtime.Router is { } router && !router.IsLocal(runtime, entry.GrainId))
        {
            Reschedule(scheduled, NextTickAfter(entry, Time.GetUtcNow()));
            return;
        }

        var tick = new TickStatus(entry.FirstDueAt, entry.Period, scheduled.NextDueAt);
        try
        {
            await runtime.GrainFactory.GetGrain<IRemindable>(entry.GrainId).ReceiveReminder(entry.Name, tick);
            if (entry.Period == TimeSpan.Zero)
            {
                await runtime.Batcher.SubmitAsync(StorageWrite.ReminderOnly(new ReminderChange(entry.GrainId, entry.Name, Upsert: null)));
                lock (_gate)
                {
                    if (_reminders.TryGetValue((entry.GrainId, entry.Name), out var current) && current == scheduled)
                    {
                        _reminders.Remove((entry.GrainId, entry.Name));
                    }
                }

                return;
            }

            Reschedule(scheduled, NextTickAfter(entry, Time.GetUtcNow()));
        }
        catch (Exception exception)
        {
            LogTickFailed(runtime.Logger, entry.Name, entry.GrainId, exception);
            Reschedule(scheduled, Time.GetUtcNow() + s_retryDelay);
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

    private static DateTimeOffset NextTickAfter(ReminderEntry entry, DateTimeOffset now)
    {
        if (entry.FirstDueAt > now)
        {
            return entry.FirstDueAt;
        }

        var periods = (now - entry.FirstDueAt).Ticks / entry.Period.Ticks + 1;
        return entry.FirstDueAt + TimeSpan.FromTicks(entry.Period.Ticks * periods);
    }

    private async Task ReloadSafelyAsync()
    {
        try
        {
            await ReloadAsync(runtime.ShutdownToken);
        }
        catch (Exception exception) when (!runtime.ShutdownToken.IsCancellationRequested)
        {
            LogReloadFailed(runtime.Logger, exception);
        }
    }

    private async Task ReloadAsync(CancellationToken cancellationToken)
    {
        long startedAt;
        lock (_gate)
        {
            startedAt = _generation;
        }

        var stored = await runtime.Storage.ReadRemindersAsync(cancellationToken);
        // Reminders of grain types this silo does not host (or that cannot receive them) are left to others.
        var known = stored.Where(entry => runtime.Registry.TryGetClass(entry.GrainId.Type, out var grainClass)
            && typeof(IRemindable).IsAssignableFrom(grainClass.ClassType)).ToList();
        foreach (var entry in known)
        {
            Schedule(entry);
        }

        var keys = known.Select(entry => (entry.GrainId, entry.Name)).ToHashSet();
        lock (_gate)
        {
            // Only entries scheduled before the read began can be judged by it; newer ones may have committed since.
            foreach (var gone in _reminders.Where(pair => pair.Value.Generation <= startedAt && !keys.Contains(pair.Key)).Select(pair => pair.Key).ToList())
            {
                _reminders.Remove(gone, out var scheduled);
                scheduled!.Removed = true;
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reloading reminders from storage failed")]
    private static partial void LogReloadFailed(ILogger logger, Exception exception);

    private sealed class Scheduled(ReminderEntry entry)
    {
        public ReminderEntry Entry { get; } = entry;

        public DateTimeOffset NextDueAt { get; set; }

        public bool Removed { get; set; }

        public long Generation { get; init; }
    }
}
