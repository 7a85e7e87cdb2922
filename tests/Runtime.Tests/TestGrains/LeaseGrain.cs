using Orchestration.Runtime.Activations;
using Orchestration.Runtime.Reminders;

namespace Orchestration.Runtime.Tests.TestGrains;

public sealed class LeaseState
{
    public int Claims { get; set; }
}

public interface ILeaseGrain : IGrainWithStringKey, IRemindable
{
    /// <summary>Registers the reminder, then writes state (as a task claim does).</summary>
    Task<string?> ClaimAsync(string reminder, TimeSpan dueTime);

    /// <summary>Unregisters the reminder, then writes state.</summary>
    Task<string?> ReleaseAsync(string reminder);

    /// <summary>Registers the reminder, then fails.</summary>
    Task ClaimThenFailAsync(string reminder, TimeSpan dueTime);

    /// <summary>Registers the reminder and writes nothing; says whether registering completed at once and left the schedule as it was.</summary>
    Task<bool> ArmAsync(string reminder, TimeSpan dueTime);

    /// <summary>
    /// Leaves work running that, once the test records <c>arm:{key}</c>, registers the reminder (the call has finished by
    /// then) and records <c>armed:{key}</c> when that completes, with whether it was scheduled by then.
    /// </summary>
    Task ArmLaterAsync(string reminder, TimeSpan dueTime);

    /// <summary>Writes state with nothing else.</summary>
    Task<string?> TouchAsync();
}

/// <summary>A remindable grain with state: each tick records <c>reminder:{key}:{name}</c>.</summary>
public sealed class LeaseGrain(GrainProbe probe, [PersistentState("lease")] IPersistentState<LeaseState> lease) : Grain, ILeaseGrain
{
    public async Task<string?> ClaimAsync(string reminder, TimeSpan dueTime)
    {
        await RegisterOrUpdateReminder(reminder, dueTime, TimeSpan.Zero);
        lease.State.Claims++;
        await lease.WriteStateAsync();
        return lease.Etag;
    }

    public async Task<string?> ReleaseAsync(string reminder)
    {
        await UnregisterReminder(reminder);
        lease.State.Claims++;
        await lease.WriteStateAsync();
        return lease.Etag;
    }

    public async Task ClaimThenFailAsync(string reminder, TimeSpan dueTime)
    {
        await RegisterOrUpdateReminder(reminder, dueTime, TimeSpan.Zero);
        throw new InvalidOperationException("The claim fails on purpose.");
    }

    public Task<bool> ArmAsync(string reminder, TimeSpan dueTime)
    {
        var reminders = ((ActivationData)GrainContext).Runtime.Reminders;
        var before = reminders.NextDueAt(GrainId, reminder);
        var registering = RegisterOrUpdateReminder(reminder, dueTime, TimeSpan.Zero);
        return Task.FromResult(registering.IsCompletedSuccessfully && reminders.NextDueAt(GrainId, reminder) == before);
    }

    public Task ArmLaterAsync(string reminder, TimeSpan dueTime)
    {
        _ = ArmWhenToldAsync();
        return Task.CompletedTask;

        async Task ArmWhenToldAsync()
        {
            await probe.WaitForAsync($"arm:{GetPrimaryKeyString()}");
            await RegisterOrUpdateReminder(reminder, dueTime, TimeSpan.Zero);
            var scheduled = ((ActivationData)GrainContext).Runtime.Reminders.NextDueAt(GrainId, reminder) is not null;
            probe.Record($"armed:{GetPrimaryKeyString()}:{scheduled}");
        }
    }

    public async Task<string?> TouchAsync()
    {
        lease.State.Claims++;
        await lease.WriteStateAsync();
        return lease.Etag;
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        probe.Record($"reminder:{GetPrimaryKeyString()}:{reminderName}");
        return Task.CompletedTask;
    }
}
