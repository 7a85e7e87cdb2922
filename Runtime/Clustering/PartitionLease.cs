namespace Orchestration.Runtime.Clustering;

/// <summary>
/// One period during which this silo serves one partition: the epoch it was granted under and, on this silo's
/// monotonic clock, the instant it must stop serving (before the lease can expire in the database). Activations
/// created in the period keep it and stamp their writes with it; once it ends (lost, drained, expired) it never
/// becomes valid again — serving the partition again is a new period with a new object, so an activation of an
/// earlier period cannot write through a later one.
/// </summary>
internal sealed class PartitionLease(int partition, long epoch, long deadline)
{
    private long _deadline = deadline;
    private volatile bool _ended;
    private volatile bool _draining;
    private volatile bool _remindersTakenOver;

    public int Partition { get; } = partition;

    public long Epoch { get; } = epoch;

    /// <summary>The <see cref="TimeProvider.GetTimestamp"/> after which this silo no longer serves the partition.</summary>
    public long Deadline => Volatile.Read(ref _deadline);

    public bool HasEnded => _ended;

    public bool IsDraining => _draining;

    /// <summary>
    /// Whether this silo has read the partition's reminders from storage since the period began. Until then its copies
    /// may be stale (ticked and deleted by the previous owner, unregistered there), so none of them fires.
    /// </summary>
    public bool RemindersTakenOver => _remindersTakenOver;

    public void MarkRemindersTakenOver() => _remindersTakenOver = true;

    /// <summary>Whether activations of this period may still write: the period has not ended and its deadline is ahead.</summary>
    public bool IsServing(long now) => !_ended && now < Deadline;

    /// <summary>Whether new calls and activations may start here: serving, and not handing the partition over.</summary>
    public bool IsAccepting(long now) => !_draining && IsServing(now);

    /// <summary>
    /// Starts handing the partition over: no new call or activation starts in this period, while the activations it has
    /// finish and write (until the period ends).
    /// </summary>
    /// <remarks>
    /// Fenced, as is <see cref="End"/>: the drain (or discard) then looks for the period's activations, while a call that
    /// passed the accepting check adds one and then checks again (<c>ActivationDirectory.GetOrAdd</c>); with a full fence
    /// between each side's write and read, at least one of them sees the other.
    /// </remarks>
    public void BeginDrain()
    {
        _draining = true;
        Interlocked.MemoryBarrier();
    }

    /// <summary>
    /// Moves the deadline later: a renewal sent while the period was serving. Its answer may arrive after the old deadline
    /// (the period stops serving meanwhile, then serves again): the database never let the lease lapse, so no other
    /// silo could have taken the partition in between.
    /// </summary>
    public void Extend(long deadline)
    {
        long current;
        do
        {
            current = Volatile.Read(ref _deadline);
            if (deadline <= current)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _deadline, deadline, current) != current);
    }

    /// <summary>Ends the period for good.</summary>
    public void End()
    {
        _ended = true;
        Interlocked.MemoryBarrier();
    }

    public override string ToString() => $"partition {Partition} epoch {Epoch}";
}
