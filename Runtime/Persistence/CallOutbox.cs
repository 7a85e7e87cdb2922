namespace Orchestration.Runtime.Persistence;

/// <summary>
/// What one call raised and has not committed yet: events, projection changes and reminder changes, each in the order
/// raised. Reminder changes reach the reminder schedule only once the write that carries them has committed.
/// </summary>
internal sealed record CallOutbox(IReadOnlyList<EventDraft> Events, IReadOnlyList<ProjectionChange> Projections, IReadOnlyList<ReminderChange> Reminders)
{
    public static CallOutbox Empty { get; } = new([], [], []);
}
