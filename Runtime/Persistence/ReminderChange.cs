namespace Orchestration.Runtime.Persistence;

/// <summary>A reminder to store (<see cref="Upsert"/> set) or delete (<see cref="Upsert"/> null).</summary>
internal sealed record ReminderChange(GrainId GrainId, string Name, ReminderEntry? Upsert);
