using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Reminders;

public sealed class ReminderTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private readonly ManualTimeProvider _time = new();
    private readonly StorageChoice.Sqlite _file = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await StartClusterAsync();

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _file.DisposeAsync();
    }

    [Fact]
    public async Task Reminder_RegisteredBeforeRestart_FiresAfterRestart()
    {
        await _cluster.GrainFactory.GetGrain<IAlarmGrain>("org/sleeper").SetReminderAsync("wake", TimeSpan.FromSeconds(30), TimeSpan.Zero);
        await _cluster.DisposeAsync();

        _cluster = await StartClusterAsync();
        Assert.Equal(0, _probe.Count("reminder:org/sleeper:wake"));
        _time.Advance(TimeSpan.FromSeconds(31));

        await _probe.WaitForAsync("reminder:org/sleeper:wake");
    }

    [Fact]
    public async Task Reminder_OneShot_FiresOnceAndIsDeleted()
    {
        var grain = _cluster.GrainFactory.GetGrain<IAlarmGrain>("org/once");
        await grain.SetReminderAsync("ping", TimeSpan.FromMilliseconds(100), TimeSpan.Zero);

        _time.Advance(TimeSpan.FromMilliseconds(100));
        await _probe.WaitForAsync("reminder:org/once:ping");

        await Eventually.TrueAsync(async () => (await _cluster.Silos[0].Runtime.Storage.ReadRemindersAsync(CancellationToken.None)).Count == 0);
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, _probe.Count("reminder:org/once:ping"));
    }

    [Fact]
    public async Task Reminder_Periodic_TicksEachPeriodUntilUnregistered()
    {
        var grain = _cluster.GrainFactory.GetGrain<IAlarmGrain>("org/metronome");
        var id = new GrainId("alarm", "org/metronome");
        var reminders = _cluster.Silos[0].Runtime.Reminders;
        await grain.SetReminderAsync("tick", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
        var first = reminders.NextDueAt(id, "tick")!.Value;

        _time.Advance(TimeSpan.FromSeconds(1));
        await _probe.WaitForAsync("reminder:org/metronome:tick");
        await Eventually.TrueAsync(() => Task.FromResult(reminders.NextDueAt(id, "tick") == first + TimeSpan.FromSeconds(10)));
        _time.Advance(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(() => Task.FromResult(_probe.Count("reminder:org/metronome:tick") == 2));

        await grain.CancelReminderAsync("tick");
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(2, _probe.Count("reminder:org/metronome:tick"));
        Assert.Null(reminders.NextDueAt(id, "tick"));
    }

    private Task<TestCluster> StartClusterAsync() => TestClusterFactory.StartAsync(_probe, _file.Apply, _time);
}
