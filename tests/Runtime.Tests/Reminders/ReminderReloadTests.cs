using Orchestration.Runtime.Clustering;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Reminders;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Reminders;

/// <summary>A reload that read storage before a local change must not undo that change.</summary>
public sealed class ReminderReloadTests : IAsyncLifetime
{
    private static readonly GrainId s_grain = new("alarm", "org/racer");

    private readonly GrainProbe _probe = new();
    private readonly ManualTimeProvider _time = new();
    private readonly HeldReadStorage _storage = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() =>
        _cluster = await TestClusterFactory.StartAsync(_probe, builder => builder.UseStorageInstance(_storage), _time);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Reload_ReadBeforeUnregister_DoesNotBringTheReminderBack()
    {
        var grain = _cluster.GrainFactory.GetGrain<IAlarmGrain>("org/racer");
        var reminders = _cluster.Silos[0].Runtime.Reminders;
        await grain.SetReminderAsync("tick", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        var read = _storage.HoldNextReminderRead();
        var reload = reminders.ReloadAsync(CancellationToken.None);
        await read.Started;

        await grain.CancelReminderAsync("tick");
        read.Release();
        await reload;
        _time.Advance(TimeSpan.FromSeconds(30));
        await reminders.WhenIdleAsync();

        Assert.Null(reminders.NextDueAt(s_grain, "tick"));
        Assert.Equal(0, _probe.Count("reminder:org/racer:tick"));
    }

    [Fact]
    public async Task Reload_ReadBeforeRegister_KeepsTheNewReminder()
    {
        var grain = _cluster.GrainFactory.GetGrain<IAlarmGrain>("org/racer");
        var reminders = _cluster.Silos[0].Runtime.Reminders;
        var read = _storage.HoldNextReminderRead();
        var reload = reminders.ReloadAsync(CancellationToken.None);
        await read.Started;

        await grain.SetReminderAsync("tick", TimeSpan.FromSeconds(10), TimeSpan.Zero);
        read.Release();
        await reload;
        _time.Advance(TimeSpan.FromSeconds(10));
        await reminders.WhenIdleAsync();

        Assert.Equal(1, _probe.Count("reminder:org/racer:tick"));
    }

    [Fact]
    public async Task Reload_ReadBeforeReRegister_KeepsTheNewSchedule()
    {
        var grain = _cluster.GrainFactory.GetGrain<IAlarmGrain>("org/racer");
        var reminders = _cluster.Silos[0].Runtime.Reminders;
        await grain.SetReminderAsync("tick", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        var read = _storage.HoldNextReminderRead();
        var reload = reminders.ReloadAsync(CancellationToken.None);
        await read.Started; // it has read the old schedule

        await grain.SetReminderAsync("tick", TimeSpan.FromSeconds(100), TimeSpan.Zero);
        read.Release();
        await reload;
        _time.Advance(TimeSpan.FromSeconds(30));
        await reminders.WhenIdleAsync();

        Assert.Equal(0, _probe.Count("reminder:org/racer:tick"));
        _time.Advance(TimeSpan.FromSeconds(70));
        await reminders.WhenIdleAsync();
        Assert.Equal(1, _probe.Count("reminder:org/racer:tick"));
    }

    [Fact]
    public async Task Register_CommittedButAnsweredWithAFailure_FiresOnTimeAfterAPromptReload()
    {
        var grain = _cluster.GrainFactory.GetGrain<IAlarmGrain>("org/racer");
        _storage.FailAfterNextCommit();

        await Assert.ThrowsAsync<TimeoutException>(() => grain.SetReminderAsync("tick", TimeSpan.FromSeconds(10), TimeSpan.Zero));
        _time.Advance(TimeSpan.FromSeconds(10));

        // Stored but not scheduled by the failed call: only a reload finds it, and the next periodic one is a minute away.
        await Eventually.TrueAsync(() => Task.FromResult(_probe.Count("reminder:org/racer:tick") == 1), "the reminder fired");
        Assert.True(_cluster.Silos[0].Runtime.Options.ReminderReloadInterval >= TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task CommitsFailingInABurst_DoNotPutTheOwedReloadOff()
    {
        var grain = _cluster.GrainFactory.GetGrain<IAlarmGrain>("org/racer");
        _storage.FailAfterNextCommit();
        await Assert.ThrowsAsync<TimeoutException>(() => grain.SetReminderAsync("tick", TimeSpan.FromSeconds(1), TimeSpan.Zero));
        _time.Advance(TimeSpan.FromMilliseconds(600));
        _storage.FailAfterNextCommit();
        await Assert.ThrowsAsync<TimeoutException>(() => grain.SetReminderAsync("later", TimeSpan.FromSeconds(10), TimeSpan.Zero));

        _time.Advance(TimeSpan.FromMilliseconds(400)); // one second after the first failure

        await Eventually.TrueAsync(() => Task.FromResult(_probe.Count("reminder:org/racer:tick") == 1), "the first reminder fired on time");
    }

    [Fact]
    public async Task OwedReload_ThatFails_IsTriedAgainSoon()
    {
        var grain = _cluster.GrainFactory.GetGrain<IAlarmGrain>("org/racer");
        var reminders = _cluster.Silos[0].Runtime.Reminders;
        _storage.FailAfterNextCommit();
        await Assert.ThrowsAsync<TimeoutException>(() => grain.SetReminderAsync("tick", TimeSpan.FromSeconds(1), TimeSpan.Zero));
        _storage.FailNextReminderRead();

        _time.Advance(TimeSpan.FromSeconds(1)); // the owed reload fails
        await reminders.WhenIdleAsync();
        Assert.Null(reminders.NextDueAt(s_grain, "tick"));
        _time.Advance(TimeSpan.FromSeconds(2)); // its retry, with the delay doubled

        await Eventually.TrueAsync(() => Task.FromResult(_probe.Count("reminder:org/racer:tick") == 1), "the reminder fired after the retried reload");
    }

    [Fact]
    public async Task OneShot_WhoseDeleteFails_IsDeletedOnItsRetryWithoutTickingAgain()
    {
        var grain = _cluster.GrainFactory.GetGrain<IAlarmGrain>("org/racer");
        var reminders = _cluster.Silos[0].Runtime.Reminders;
        await grain.SetReminderAsync("once", TimeSpan.FromSeconds(10), TimeSpan.Zero);
        _storage.FailNextCommit(); // the tick commits nothing: this is its delete

        _time.Advance(TimeSpan.FromSeconds(10));
        await reminders.WhenIdleAsync();
        Assert.Equal(1, _probe.Count("reminder:org/racer:once"));
        Assert.NotNull(reminders.NextDueAt(s_grain, "once")); // still stored, so still scheduled: for its delete
        _time.Advance(ReminderService.FirstRetryDelay);
        await reminders.WhenIdleAsync();

        Assert.Equal(1, _probe.Count("reminder:org/racer:once"));
        Assert.Null(reminders.NextDueAt(s_grain, "once"));
        Assert.DoesNotContain(await _storage.ReadRemindersAsync(dueBy: null, CancellationToken.None), entry => entry.GrainId == s_grain);
    }

    [Fact]
    public async Task Reload_ReadsARegistrationWhoseCommitHasNotAnsweredYet_LeavesItToTheCommit()
    {
        var grain = _cluster.GrainFactory.GetGrain<IAlarmGrain>("org/racer");
        var reminders = _cluster.Silos[0].Runtime.Reminders;
        var commit = _storage.HoldAfterNextCommit();
        var register = grain.SetReminderAsync("now", TimeSpan.Zero, TimeSpan.Zero);
        await commit.Started; // stored; the registering call has not heard so yet

        await reminders.ReloadAsync(CancellationToken.None);
        _time.Advance(TimeSpan.Zero);
        commit.Release();
        await register;
        for (var settle = 0; settle < 3; settle++)
        {
            _time.Advance(TimeSpan.Zero);
            await reminders.WhenIdleAsync();
        }

        Assert.Equal(1, _probe.Count("reminder:org/racer:now"));
    }

    [Fact]
    public async Task PeriodicReload_ThatFails_IsTriedAgainSoon_SoAReminderComingWithinReachFiresOnTime()
    {
        var reminders = _cluster.Silos[0].Runtime.Reminders;
        var interval = _cluster.Silos[0].Runtime.Options.ReminderReloadInterval;
        // Registered by another silo, due a little after this silo's next reload: only a reload can schedule it here.
        var entry = new ReminderEntry(s_grain, "elsewhere", _time.GetUtcNow() + interval + TimeSpan.FromSeconds(10), TimeSpan.Zero);
        await _storage.CommitAsync([StorageWrite.ReminderOnly(new ReminderChange(s_grain, entry.Name, entry))], CancellationToken.None);
        _storage.FailNextReminderRead();

        _time.Advance(interval); // the periodic reload fails
        await reminders.WhenIdleAsync();
        Assert.Null(reminders.NextDueAt(s_grain, "elsewhere"));
        for (var step = 0; step < 10; step++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            await reminders.WhenIdleAsync();
        }

        Assert.Equal(1, _probe.Count("reminder:org/racer:elsewhere"));
    }

    [Fact]
    public async Task TakeOver_WhoseReadFails_IsTriedAgainUntilItReads()
    {
        var grain = _cluster.GrainFactory.GetGrain<IAlarmGrain>("org/racer");
        var reminders = _cluster.Silos[0].Runtime.Reminders;
        await grain.SetReminderAsync("tick", TimeSpan.FromSeconds(10), TimeSpan.Zero);
        var period = new PartitionLease(ClusterPartitions.Of(s_grain), epoch: 0, deadline: long.MaxValue);
        _storage.FailNextReminderRead();

        var takeOver = reminders.TakeOverAsync([period], [], CancellationToken.None);
        var retryAt = _time.GetUtcNow() + ReminderService.FirstRetryDelay;
        await Eventually.TrueAsync(() => Task.FromResult(_time.TimersDueAt(retryAt) > 0), "the take-over waits to try again");
        Assert.False(period.RemindersTakenOver);
        _time.Advance(ReminderService.FirstRetryDelay);
        await takeOver.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(period.RemindersTakenOver);
    }

    /// <summary>
    /// Memory storage whose next reminder read takes its snapshot, then waits until the test lets it return (its next
    /// commit likewise, once applied), and whose next commit can be made to fail (before it commits, or after it committed, as a timeout after the database
    /// applied it does), and its next reminder read to fail.
    /// </summary>
    private sealed class HeldReadStorage : IGrainStorage
    {
        private readonly MemoryGrainStorage _inner = new();
        private HeldRead? _held;
        private HeldRead? _heldCommit;
        private int _failAfterNextCommit;
        private int _failNextCommit;
        private int _failNextReminderRead;

        public void FailAfterNextCommit() => _failAfterNextCommit = 1;

        public void FailNextCommit() => _failNextCommit = 1;

        public void FailNextReminderRead() => _failNextReminderRead = 1;

        public string ProviderName => _inner.ProviderName;

        public int MaxConcurrentCommits => _inner.MaxConcurrentCommits;

        public HeldRead HoldNextReminderRead() => _held = new HeldRead();

        /// <summary>The next commit applies, then waits until the test lets it answer.</summary>
        public HeldRead HoldAfterNextCommit() => _heldCommit = new HeldRead();

        public async Task<IReadOnlyList<ReminderEntry>> ReadRemindersAsync(DateTimeOffset? dueBy, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _failNextReminderRead, 0) == 1)
            {
                throw new TimeoutException("The reminders' read did not answer in time.");
            }

            var snapshot = await _inner.ReadRemindersAsync(dueBy, cancellationToken);
            if (Interlocked.Exchange(ref _held, null) is { } held)
            {
                held.MarkStarted();
                await held.Released;
            }

            return snapshot;
        }

        public Task InitializeAsync(CancellationToken cancellationToken) => _inner.InitializeAsync(cancellationToken);

        public Task<GrainStateRecord?> ReadStateAsync(GrainStateKey key, CancellationToken cancellationToken) => _inner.ReadStateAsync(key, cancellationToken);

        public async Task CommitAsync(IReadOnlyList<StorageWrite> writes, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _failNextCommit, 0) == 1)
            {
                throw new InvalidOperationException("The commit failed.");
            }

            await _inner.CommitAsync(writes, cancellationToken);
            if (Interlocked.Exchange(ref _heldCommit, null) is { } held)
            {
                held.MarkStarted();
                await held.Released;
            }

            if (Interlocked.Exchange(ref _failAfterNextCommit, 0) == 1)
            {
                throw new TimeoutException("The commit's answer did not come in time.");
            }
        }

        public Task<IReadOnlyList<StreamEvent>> ReadEventsAsync(long afterSequence, int limit, CancellationToken cancellationToken) => _inner.ReadEventsAsync(afterSequence, limit, cancellationToken);

        public Task<IReadOnlyList<StreamEvent>> ReadTenantEventsAsync(string tenant, long afterSequence, int limit, CancellationToken cancellationToken) =>
            _inner.ReadTenantEventsAsync(tenant, afterSequence, limit, cancellationToken);

        public Task<ProjectionPage> QueryProjectionsAsync(ProjectionQuery query, CancellationToken cancellationToken) =>
            _inner.QueryProjectionsAsync(query, cancellationToken);

        public Task<ProjectionRow?> ReadProjectionAsync(string collection, string tenant, string id, CancellationToken cancellationToken) =>
            _inner.ReadProjectionAsync(collection, tenant, id, cancellationToken);

        public Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken) => _inner.ReadLastSequenceAsync(cancellationToken);

        public Task<long> ReadCursorAsync(string subscriber, CancellationToken cancellationToken) => _inner.ReadCursorAsync(subscriber, cancellationToken);

        public Task WriteCursorAsync(string subscriber, long sequence, CancellationToken cancellationToken) => _inner.WriteCursorAsync(subscriber, sequence, cancellationToken);

        public Task CheckHealthAsync(CancellationToken cancellationToken) => _inner.CheckHealthAsync(cancellationToken);

        public IAsyncDisposable WatchCommits(Action<long> onCommit) => _inner.WatchCommits(onCommit);

        public ValueTask DisposeAsync() => _inner.DisposeAsync();
    }

    private sealed class HeldRead
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Started => _started.Task.WaitAsync(TimeSpan.FromSeconds(20));

        public Task Released => _released.Task;

        public void MarkStarted() => _started.TrySetResult();

        public void Release() => _released.TrySetResult();
    }
}
