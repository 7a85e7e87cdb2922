namespace Orchestration.Runtime.Reminders;

/// <summary>Implemented by grains that register durable reminders; each tick arrives as a call.</summary>
public interface IRemindable : IGrainWithStringKey
{
    /// <summary>A reminder is due. Completing (without throwing) acknowledges the tick; a one-shot reminder is then removed.</summary>
    Task ReceiveReminder(string reminderName, TickStatus status);
}
