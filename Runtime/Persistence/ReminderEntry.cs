namespace Orchestration.Runtime.Persistence;

/// <summary>
/// A durable reminder. Ticks fall at <see cref="FirstDueAt"/> + k × <see cref="Period"/>; a zero period ticks once.
/// Both are kept at whole microseconds, the finest precision every provider stores (Postgres), so an entry read back
/// from storage equals the one that was registered.
/// </summary>
internal sealed record ReminderEntry
{
    public ReminderEntry(GrainId grainId, string name, DateTimeOffset firstDueAt, TimeSpan period)
    {
        GrainId = grainId;
        Name = name;
        FirstDueAt = firstDueAt;
        Period = period;
    }

    public GrainId GrainId { get; init; }

    public string Name { get; init; }

    public DateTimeOffset FirstDueAt { get; init => field = new DateTimeOffset(ToMicroseconds(value.UtcTicks), TimeSpan.Zero); }

    public TimeSpan Period { get; init => field = TimeSpan.FromTicks(ToMicroseconds(value.Ticks)); }

    private static long ToMicroseconds(long ticks) => ticks - (ticks % TimeSpan.TicksPerMicrosecond);
}
