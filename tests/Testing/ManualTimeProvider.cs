namespace Orchestration.Testing;

/// <summary>
/// A clock that moves only when told: <see cref="Advance"/> moves time and runs every timer that fell due, in due order,
/// on the calling thread. Tests use it instead of sleeping.
/// </summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now = start;

    /// <summary>Starts at 2026-01-01T00:00:00Z.</summary>
    public ManualTimeProvider()
        : this(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _now;
        }
    }

    /// <inheritdoc />
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc />
    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    /// <inheritdoc />
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        lock (_gate)
        {
            _timers.Add(timer);
        }

        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>
    /// How many armed timers fall due exactly at <paramref name="moment"/>: with the clock still, a test waits for this
    /// to grow to know that code on another thread has armed its timer before the test moves the clock.
    /// </summary>
    public int TimersDueAt(DateTimeOffset moment)
    {
        lock (_gate)
        {
            return _timers.Count(timer => timer.DueAt == moment);
        }
    }

    /// <summary>Moves time forward by <paramref name="delta"/>, firing due timers as their moments pass.</summary>
    public void Advance(TimeSpan delta)
    {
        var target = TargetAfter(delta);
        while (FireNextDue(target))
        {
        }
    }

    /// <summary>
    /// Like <see cref="Advance"/>, but after each timer fires it waits for <paramref name="settle"/> before moving the
    /// clock on, so asynchronous work a timer starts (a reminder tick that sets the next reminder) still sees the clock
    /// at that timer's moment, as it would in real time.
    /// </summary>
    public async Task AdvanceAsync(TimeSpan delta, Func<Task> settle)
    {
        var target = TargetAfter(delta);
        while (FireNextDue(target))
        {
            await settle();
        }

        await settle();
    }

    private DateTimeOffset TargetAfter(TimeSpan delta)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delta, TimeSpan.Zero);
        lock (_gate)
        {
            return _now + delta;
        }
    }

    /// <summary>Fires the earliest timer due by <paramref name="target"/> at its moment; false (clock at target) when none is.</summary>
    private bool FireNextDue(DateTimeOffset target)
    {
        ManualTimer? next;
        lock (_gate)
        {
            next = _timers.Where(timer => timer.DueAt is { } due && due <= target).MinBy(timer => timer.DueAt);
            if (next is null)
            {
                _now = target;
                return false;
            }

            _now = next.DueAt!.Value;
            next.Advance();
        }

        next.Fire();
        return true;
    }

    private void Remove(ManualTimer timer)
    {
        lock (_gate)
        {
            _timers.Remove(timer);
        }
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        private TimeSpan _period;

        public DateTimeOffset? DueAt { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                _period = period;
                DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : owner._now + dueTime;
            }

            return true;
        }

        /// <summary>Moves the due time past this tick. The owner holds the lock.</summary>
        public void Advance() =>
            DueAt = _period == Timeout.InfiniteTimeSpan || _period == TimeSpan.Zero ? null : DueAt + _period;

        public void Fire() => callback(state);

        public void Dispose() => owner.Remove(this);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
