namespace Orchestration.Runtime.Persistence;

/// <summary>A durable reminder. Ticks fall at <see cref="FirstDueAt"/> + k × <see cref="Period"/>; a zero period ticks once.</summary>
internal sealed record ReminderEntry(GrainId GrainId, string Name, DateTimeOffset FirstDueAt, TimeSpan Period);
