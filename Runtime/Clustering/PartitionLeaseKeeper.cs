using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Placement;

namespace Orchestration.Runtime.Clustering;

/// <summary>
/// Keeps this silo's membership and its share of partition leases: every <see cref="ClusterOptions.RenewInterval"/> it
/// renews what it holds, heartbeats, reads the table, declares overdue silos dead, hands over partitions above its share
/// (drain, then release) and takes free or expired ones up to it.
/// </summary>
/// <remarks>
/// The safety rule, kept in <see cref="RenewAsync"/> and <see cref="AcquireAsync"/>: a period's deadline is the instant
/// the request was SENT plus the lease duration minus the safety margin, on this silo's monotonic clock. The database sets
/// the expiry from its own clock when it runs the request, which is later; so this silo stops serving before any other
/// silo can take the partition (a takeover needs the expiry to have passed), whatever the network delays — as long as the
/// two clocks' rates differ by less than the margin over a lease. Writes are fenced by epoch besides, so even a silo that
/// breaks this rule (paused mid-write) cannot store anything once the partition has moved.
/// One tick runs at a time; readers (every call asks <see cref="TryGetAccepting"/>) see leases through volatile slots.
/// </remarks>
internal sealed partial class PartitionLeaseKeeper : IAsyncDisposable
{
    private readonly IMembershipTable _table;
    private readonly string _siloId;
    private readonly string _address;
    private readonly ClusterOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IPartitionHost _host;
    private readonly PartitionLease?[] _leases = new PartitionLease?[ClusterPartitions.Count];
    private readonly Dictionary<int, Task<bool>> _drains = [];
    private readonly SemaphoreSlim _tickGate = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private MembershipEntry? _self;
    private bool _leaving;
    private Task? _loop;

    public PartitionLeaseKeeper(
        IMembershipTable table, string siloId, string address, ClusterOptions options, TimeProvider time, ILogger logger, IPartitionHost host)
    {
        _table = table;
        _siloId = siloId;
        _address = address;
        _options = options;
        _time = time;
        _logger = logger;
        _host = host;
    }

    /// <summary>This silo's current generation; null before it joined.</summary>
    public MembershipEntry? Self => Volatile.Read(ref _self);

    /// <summary>Called with every read of the table (the routing map follows the lease rounds).</summary>
    public Action<MembershipSnapshot>? SnapshotRead { get; set; }

    /// <summary>The partitions this silo holds now (including those it is handing over).</summary>
    public IReadOnlyList<PartitionLease> Held =>
        [.. _leases.Select(slot => Volatile.Read(ref slot)).Where(lease => lease is { HasEnded: false })!];

    /// <summary>The lease period to start a call or an activation of <paramref name="partition"/> in; null when not accepting.</summary>
    public PartitionLease? TryGetAccepting(int partition) =>
        Volatile.Read(ref _leases[partition]) is { } lease && lease.IsAccepting(_time.GetTimestamp()) ? lease : null;

    /// <summary>Joins the table (a new generation), becomes active, takes a first share, and starts ticking.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await JoinAsync(cancellationToken);
        await TickAsync(cancellationToken);
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
    }

    /// <summary>Registers a new generation and makes it active (tests tick by hand after this).</summary>
    internal async Task JoinAsync(CancellationToken cancellationToken)
    {
        var joined = await _table.JoinAsync(_siloId, _address, cancellationToken);
        Volatile.Write(ref _self, joined);
        await SetStatusAsync(joined, SiloMembershipStatus.Active, cancellationToken);
        LogJoined(_logger, _siloId, joined.Generation, _address);
    }

    /// <summary>
    /// Leaves gracefully: ShuttingDown, then every partition handed over as on a rebalance (drained while its lease is
    /// still renewed, then released), then Dead. Calls that arrive meanwhile wait for the next owner instead of failing.
    /// </summary>
    public async Task LeaveAsync(TimeSpan drainTimeout, CancellationToken cancellationToken)
    {
        if (Self is not { } self)
        {
            return;
        }

        _leaving = true;
        await SetStatusAsync(self, SiloMembershipStatus.ShuttingDown, cancellationToken);
        await TickAsync(cancellationToken); // starts handing everything over; the loop keeps renewing meanwhile
        try
        {
            await WhenDrainedAsync(cancellationToken).WaitAsync(drainTimeout, _time, cancellationToken);
        }
        catch (TimeoutException)
        {
            // What is still draining is released below regardless.
        }

        await TickAsync(cancellationToken); // releases what drained
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        if (Held is { Count: > 0 } stuck)
        {
            LogDrainTimedOut(_logger, _siloId, stuck.Count);
            EndAll();
            await _table.ReleaseAsync(self, [.. stuck.Select(lease => lease.Partition)], cancellationToken);
        }

        await SetStatusAsync(self, SiloMembershipStatus.Dead, cancellationToken);
        LogLeft(_logger, _siloId, self.Generation);
    }

    private async Task WhenDrainedAsync(CancellationToken cancellationToken)
    {
        Task[] drains;
        await _tickGate.WaitAsync(cancellationToken);
        try
        {
            drains = [.. _drains.Values];
        }
        finally
        {
            _tickGate.Release();
        }

        await Task.WhenAll(drains);
    }

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.RenewInterval, _time, stop);
                await TickAsync(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                // The table was unreachable or failed: leases lapse on their own deadlines; try again next tick.
                LogTickFailed(_logger, _siloId, exception);
            }
        }
    }

    /// <summary>One round: renew, end what lapsed, heartbeat, read, declare the overdue dead, hand over, take.</summary>
    internal async Task TickAsync(CancellationToken cancellationToken)
    {
        await _tickGate.WaitAsync(cancellationToken);
        try
        {
            var self = Self ?? throw new InvalidOperationException("The silo has not joined.");
            EndOverdue(); // a period that lapsed before this renewal was sent stays ended; the renewal covers the others
            try
            {
                await RenewAsync(self, cancellationToken);
            }
            finally
            {
                EndOverdue(); // also when the table is unreachable: that is when leases lapse
            }

            if (await _table.HeartbeatAsync(self, cancellationToken) == SiloMembershipStatus.Dead)
            {
                // Declared dead (it was paused or cut off too long): this generation is over. Serve nothing from it and
                // come back as a new one, as an Orleans silo that finds itself dead restarts.
                LogDeclaredDead(_logger, _siloId, self.Generation);
                var held = Held;
                EndAll();
                await _table.ReleaseAsync(self, [.. held.Select(lease => lease.Partition)], cancellationToken);
                await JoinAsync(cancellationToken);
                self = Self!;
            }

            var snapshot = await _table.ReadAsync(cancellationToken);
            SnapshotRead?.Invoke(snapshot);
            await DeclareOverdueDeadAsync(self, snapshot, cancellationToken);
            await ReleaseDrainedAsync(self, cancellationToken);
            var target = Share(self, snapshot);
            var accepting = _leases.Count(lease => lease is { HasEnded: false, IsDraining: false });
            if (accepting > target)
            {
                BeginHandOver(self, accepting - target);
            }
            else if (accepting < target && !_leaving)
            {
                await AcquireAsync(self, snapshot, target - accepting, cancellationToken);
            }
        }
        finally
        {
            _tickGate.Release();
        }
    }

    /// <summary>A version-checked status change, retried against fresh versions (other silos change the table too).</summary>
    private async Task SetStatusAsync(MembershipEntry self, SiloMembershipStatus status, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var snapshot = await _table.ReadAsync(cancellationToken);
            if (await _table.TryUpdateStatusAsync(self, status, snapshot.Version, cancellationToken))
            {
                return;
            }

            if (snapshot.Silos.FirstOrDefault(silo => silo.IsSameGeneration(self))?.Status == SiloMembershipStatus.Dead)
            {
                return; // declared dead meanwhile: nothing left to change for this generation
            }
        }

        throw new InvalidOperationException($"Silo {self}: the membership table kept changing; could not set status {status}.");
    }

    private async Task RenewAsync(MembershipEntry self, CancellationToken cancellationToken)
    {
        var held = Held;
        if (held.Count == 0)
        {
            return;
        }

        var sentAt = _time.GetTimestamp();
        var renewed = (await _table.RenewAsync(self, [.. held.Select(lease => new PartitionEpoch(lease.Partition, lease.Epoch))],
            _options.LeaseDuration, cancellationToken)).ToHashSet();
        var deadline = DeadlineFrom(sentAt);
        foreach (var lease in held)
        {
            if (renewed.Contains(new PartitionEpoch(lease.Partition, lease.Epoch)))
            {
                lease.Extend(deadline);
            }
            else
            {
                LogLeaseLost(_logger, _siloId, lease.Partition, lease.Epoch);
                End(lease);
            }
        }
    }

    private async Task AcquireAsync(MembershipEntry self, MembershipSnapshot snapshot, int wanted, CancellationToken cancellationToken)
    {
        var candidates = snapshot.Partitions
            .Where(owner => owner.IsAvailable(snapshot.Now) && Volatile.Read(ref _leases[owner.Partition]) is null or { HasEnded: true })
            .OrderByDescending(owner => Weight(self, owner.Partition))
            .Take(wanted)
            .Select(owner => owner.Partition)
            .ToArray();
        if (candidates.Length == 0)
        {
            return;
        }

        var sentAt = _time.GetTimestamp();
        var acquired = await _table.AcquireAsync(self, candidates, _options.LeaseDuration, cancellationToken);
        var deadline = DeadlineFrom(sentAt);
        var periods = new List<PartitionLease>(acquired.Count);
        foreach (var lease in acquired)
        {
            var period = new PartitionLease(lease.Partition, lease.Epoch, deadline);
            Volatile.Write(ref _leases[lease.Partition], period);
            periods.Add(period);
        }

        if (acquired.Count > 0)
        {
            LogAcquired(_logger, _siloId, acquired.Count, string.Join(",", acquired.Select(lease => lease.Partition)));
            var previousOwners = snapshot.Partitions.ToDictionary(owner => owner.Partition, owner => owner.SiloId);
            _host.Acquired(periods, [.. acquired.Where(lease => previousOwners[lease.Partition] is not null).Select(lease => lease.Partition)]);
        }
    }

    /// <summary>
    /// Hands over <paramref name="excess"/> partitions, those this silo prefers least (lowest rendezvous weight), so the
    /// choice is stable from tick to tick. Their activations drain while the leases are still renewed; released on a
    /// later tick once drained.
    /// </summary>
    private void BeginHandOver(MembershipEntry self, int excess)
    {
        var handedOver = _leases
            .Where(lease => lease is { HasEnded: false, IsDraining: false })
            .OrderBy(lease => Weight(self, lease!.Partition))
            .Take(excess)
            .ToArray();
        foreach (var lease in handedOver)
        {
            lease!.BeginDrain();
            _drains[lease.Partition] = DrainWithinTimeoutAsync(lease);
        }
    }

    /// <summary>Drains the period; false if that took longer than <see cref="ClusterOptions.HandOverTimeout"/>.</summary>
    private async Task<bool> DrainWithinTimeoutAsync(PartitionLease lease)
    {
        try
        {
            await _host.DrainAsync([lease]).WaitAsync(_options.HandOverTimeout, _time);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private async Task ReleaseDrainedAsync(MembershipEntry self, CancellationToken cancellationToken)
    {
        var drained = _drains.Where(drain => drain.Value.IsCompleted).Select(drain => drain.Key).ToArray();
        if (drained.Length == 0)
        {
            return;
        }

        foreach (var partition in drained)
        {
            _drains.Remove(partition, out var drain);
            if (Volatile.Read(ref _leases[partition]) is { } lease)
            {
                lease.End();
                Volatile.Write(ref _leases[partition], null);
                if (!drain!.Result)
                {
                    // A turn or a delivery that does not end must not keep the partition from its next owner for ever.
                    LogHandOverTimedOut(_logger, _siloId, partition);
                    _host.Discard(lease);
                }
            }
        }

        await _table.ReleaseAsync(self, drained, cancellationToken);
        LogReleased(_logger, _siloId, drained.Length);
    }

    private async Task DeclareOverdueDeadAsync(MembershipEntry self, MembershipSnapshot snapshot, CancellationToken cancellationToken)
    {
        foreach (var silo in snapshot.Silos)
        {
            if (!silo.IsSameGeneration(self) && silo.Status != SiloMembershipStatus.Dead && snapshot.Now - silo.HeartbeatAt > _options.DeadAfter
                && await _table.TryDeclareDeadAsync(silo, _options.DeadAfter, snapshot.Version, cancellationToken))
            {
                LogDeclaredOtherDead(_logger, _siloId, silo.SiloId, silo.Generation);
                return; // the version moved on; the next tick reads it again
            }
        }
    }

    /// <summary>
    /// This silo's even share: the active silos with a fresh heartbeat, in (id, generation) order, get
    /// <c>Count / n</c> each and the first <c>Count % n</c> one more. A silo that is joining or leaving holds none.
    /// Fresh means within a lease: a silo that has not heartbeaten (and so not renewed) for that long holds no valid
    /// lease any more, so the survivors' shares grow at once and they take its partitions as they lapse, instead of
    /// waiting until it is declared dead.
    /// </summary>
    private int Share(MembershipEntry self, MembershipSnapshot snapshot)
    {
        if (_leaving)
        {
            return 0;
        }

        var active = snapshot.Silos
            .Where(silo => silo.Status == SiloMembershipStatus.Active && snapshot.Now - silo.HeartbeatAt <= _options.LeaseDuration)
            .OrderBy(silo => silo.SiloId, StringComparer.Ordinal)
            .ThenBy(silo => silo.Generation)
            .ToList();
        var index = active.FindIndex(silo => silo.IsSameGeneration(self));
        return index < 0 ? 0 : ClusterPartitions.Count / active.Count + (index < ClusterPartitions.Count % active.Count ? 1 : 0);
    }

    /// <summary>Ends every period whose deadline has passed (the renewals failed or came too late).</summary>
    private void EndOverdue()
    {
        var now = _time.GetTimestamp();
        foreach (var lease in Held)
        {
            if (!lease.IsServing(now))
            {
                LogLeaseLapsed(_logger, _siloId, lease.Partition, lease.Epoch);
                End(lease);
            }
        }
    }

    private void EndAll()
    {
        foreach (var lease in Held)
        {
            End(lease);
        }
    }

    /// <summary>The partition is no longer this silo's: its activations are discarded without writing.</summary>
    private void End(PartitionLease lease)
    {
        lease.End();
        Interlocked.CompareExchange(ref _leases[lease.Partition], null, lease);
        _drains.Remove(lease.Partition);
        _host.Discard(lease);
    }

    private long DeadlineFrom(long sentAt) =>
        sentAt + (long)((_options.LeaseDuration - _options.SafetyMargin).TotalSeconds * _time.TimestampFrequency);

    private static ulong Weight(MembershipEntry self, int partition) =>
        RendezvousHash.Weight(self.SiloId, new GrainId("partition", partition.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        _stop.Dispose();
        _tickGate.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {SiloId} joined the cluster as generation {Generation} at {Address}")]
    private static partial void LogJoined(ILogger logger, string siloId, long generation, string address);

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {SiloId} left the cluster (generation {Generation})")]
    private static partial void LogLeft(ILogger logger, string siloId, long generation);

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {SiloId} took {Count} partitions: {Partitions}")]
    private static partial void LogAcquired(ILogger logger, string siloId, int count, string partitions);

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {SiloId} handed over {Count} partitions")]
    private static partial void LogReleased(ILogger logger, string siloId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {SiloId} lost partition {Partition} (epoch {Epoch}): another silo holds it now")]
    private static partial void LogLeaseLost(ILogger logger, string siloId, int partition, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {SiloId} stopped serving partition {Partition} (epoch {Epoch}): its lease was not renewed in time")]
    private static partial void LogLeaseLapsed(ILogger logger, string siloId, int partition, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {SiloId} generation {Generation} was declared dead; it rejoins as a new generation")]
    private static partial void LogDeclaredDead(ILogger logger, string siloId, long generation);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {SiloId} declared silo {Suspect} generation {Generation} dead: its heartbeat is overdue")]
    private static partial void LogDeclaredOtherDead(ILogger logger, string siloId, string suspect, long generation);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {SiloId}: a lease round failed; leases lapse on their own deadlines")]
    private static partial void LogTickFailed(ILogger logger, string siloId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {SiloId} released partition {Partition} before it drained (Cluster:HandOverTimeout); what is left of it can no longer write")]
    private static partial void LogHandOverTimedOut(ILogger logger, string siloId, int partition);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {SiloId} stopped waiting for the activations of {Count} partitions to drain")]
    private static partial void LogDrainTimedOut(ILogger logger, string siloId, int count);
}

/// <summary>What the lease keeper asks of the silo that hosts the partitions.</summary>
internal interface IPartitionHost
{
    /// <summary>Deactivates (gracefully: they finish their turns and write) the activations of the <paramref name="periods"/>.</summary>
    Task DrainAsync(IReadOnlyList<PartitionLease> periods);

    /// <summary>Discards the activations of <paramref name="period"/> at once: the silo no longer owns its partition.</summary>
    void Discard(PartitionLease period);

    /// <summary>
    /// This silo now serves the <paramref name="periods"/>' partitions (their reminders are its to fire, once taken over);
    /// <paramref name="failedOver"/> are those it took from an owner whose lease had lapsed rather than one that handed
    /// them over.
    /// </summary>
    void Acquired(IReadOnlyList<PartitionLease> periods, IReadOnlyList<int> failedOver);
}
