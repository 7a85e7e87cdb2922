using Orchestration.Runtime.Reminders;

namespace Orchestration.Runtime.Tests.TestGrains;

public interface IRenewingAlarmGrain : IGrainWithStringKey, IRemindable
{
    Task SetReminderAsync(string name, TimeSpan dueTime, TimeSpan period);
}

/// <summary>Each tick re-registers its own reminder to fire again <see cref="RenewAfter"/> later, keeping its period.</summary>
public sealed class RenewingAlarmGrain(GrainProbe probe) : Grain, IRenewingAlarmGrain
{
    public static readonly TimeSpan RenewAfter = TimeSpan.FromSeconds(30);

    public Task SetReminderAsync(string name, TimeSpan dueTime, TimeSpan period) => RegisterOrUpdateReminder(name, dueTime, period);

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        probe.Record($"reminder:{GetPrimaryKeyString()}:{reminderName}");
        await RegisterOrUpdateReminder(reminderName, RenewAfter, status.Period);
    }
}

public interface IFailingAlarmGrain : IGrainWithStringKey, IRemindable
{
    Task SetReminderAsync(string name, TimeSpan dueTime, TimeSpan period);
}

/// <summary>Every tick fails, so the reminder keeps retrying.</summary>
public sealed class FailingAlarmGrain(GrainProbe probe) : Grain, IFailingAlarmGrain
{
    public Task SetReminderAsync(string name, TimeSpan dueTime, TimeSpan period) => RegisterOrUpdateReminder(name, dueTime, period);

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        probe.Record($"attempt:{GetPrimaryKeyString()}:{reminderName}");
        throw new InvalidOperationException("The tick fails on purpose.");
    }
}

public interface ISlowAlarmGrain : IGrainWithStringKey, IRemindable
{
    Task SetReminderAsync(string name, TimeSpan dueTime, TimeSpan period);

    Task PingAsync();
}

/// <summary>
/// Reentrant so that a second tick could run beside the first: each tick records its entry, then waits until the test
/// records <c>release:{key}</c>.
/// </summary>
[Reentrant]
public sealed class SlowAlarmGrain(GrainProbe probe) : Grain, ISlowAlarmGrain
{
    public Task SetReminderAsync(string name, TimeSpan dueTime, TimeSpan period) => RegisterOrUpdateReminder(name, dueTime, period);

    public Task PingAsync() => Task.CompletedTask;

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        probe.Record($"enter:{GetPrimaryKeyString()}:{reminderName}");
        await probe.WaitForAsync($"release:{GetPrimaryKeyString()}");
        probe.Record($"leave:{GetPrimaryKeyString()}:{reminderName}");
    }
}
