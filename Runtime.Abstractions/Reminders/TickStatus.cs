namespace Orchestration.Runtime.Reminders;

/// <summary>Describes one reminder tick.</summary>
/// <param name="FirstTickTime">When the reminder was first due.</param>
/// <param name="Period">The period; <see cref="TimeSpan.Zero"/> for a one-shot reminder.</param>
/// <param name="CurrentTickTime">When this tick was due.</param>
public readonly record struct TickStatus(DateTimeOffset FirstTickTime, TimeSpan Period, DateTimeOffset CurrentTickTime);
