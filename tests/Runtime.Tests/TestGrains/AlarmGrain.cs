using Orchestration.Runtime.Reminders;
using Orchestration.Runtime.Timers;

namespace Orchestration.Runtime.Tests.TestGrains;

public interface IAlarmGrain : IGrainWithStringKey, IRemindable
{
    Task SetReminderAsync(string name, TimeSpan dueTime, TimeSpan period);

    Task CancelReminderAsync(string name);

    Task StartTimerAsync(TimeSpan dueTime, TimeSpan period);

    Task<int> GetTimerTicksAsync();
}

public sealed class AlarmGrain(GrainProbe probe) : Grain, IAlarmGrain
{
    private int _timerTicks;

    public Task SetReminderAsync(string name, TimeSpan dueTime, TimeSpan period) => RegisterOrUpdateReminder(name, dueTime, period);

    public Task CancelReminderAsync(string name) => UnregisterReminder(name);

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        probe.Record($"reminder:{GetPrimaryKeyString()}:{reminderName}");
        return Task.CompletedTask;
    }

    public Task StartTimerAsync(TimeSpan dueTime, TimeSpan period)
    {
        RegisterGrainTimer(_ =>
        {
            _timerTicks++;
            probe.Record($"timer:{GetPrimaryKeyString()}:{_timerTicks}");
            return Task.CompletedTask;
        }, new GrainTimerCreationOptions { DueTime = dueTime, Period = period });
        return Task.CompletedTask;
    }

    public Task<int> GetTimerTicksAsync() => Task.FromResult(_timerTicks);
}
