using Orchestration.Runtime.Clustering;

namespace Orchestration.Runtime.Tests.Clustering;

/// <summary>
/// The membership table's rules in memory, on the test's clock, with a network a test can break per silo: a request
/// can be lost before it runs, its answer lost after it ran, or it can take time (the clock moves while it is in flight).
/// Each operation runs atomically at one instant, as a database statement does.
/// </summary>
internal sealed class FakeMembershipTable(TimeProvider clock) : IMembershipTable
{
    private readonly Lock _gate = new();
    private readonly List<MembershipEntry> _silos = [];
    private readonly PartitionOwner[] _partitions =
        [.. Enumerable.Range(0, ClusterPartitions.Count).Select(partition => new PartitionOwner(partition, null, null, 0, null))];
    private long _version;
    private long _generation;

    /// <summary>Runs before each request of a silo (by id): may throw (request lost) or advance the clock (delay).</summary>
    public Func<string, Task>? BeforeRequest { get; set; }

    /// <summary>Runs after each request of a silo ran: may throw (answer lost) or advance the clock.</summary>
    public Func<string, Task>? AfterRequest { get; set; }

    public long Epoch(int partition)
    {
        lock (_gate)
        {
            return _partitions[partition].Epoch;
        }
    }

    public Task<MembershipEntry> JoinAsync(string siloId, string address, CancellationToken cancellationToken) =>
        RunAsync(siloId, () =>
        {
            var now = clock.GetUtcNow();
            var entry = new MembershipEntry(siloId, ++_generation, address, SiloMembershipStatus.Joining, now, now);
            _silos.Add(entry);
            _version++;
            return entry;
        });

    public Task<bool> TryUpdateStatusAsync(MembershipEntry silo, SiloMembershipStatus status, long expectedVersion, CancellationToken cancellationToken) =>
        RunAsync(silo.SiloId, () =>
        {
            var index = IndexOf(silo);
            if (_version != expectedVersion || index < 0 || _silos[index].Status == SiloMembershipStatus.Dead)
            {
                return false;
            }

            _silos[index] = _silos[index] with { Status = status };
            _version++;
            return true;
        });

    // Sent by some other silo, whose network the fake does not know: never lost.
    public Task<bool> TryDeclareDeadAsync(MembershipEntry suspect, TimeSpan overdueAfter, long expectedVersion, CancellationToken cancellationToken) =>
        RunAsync(null, () =>
        {
            var index = IndexOf(suspect);
            if (_version != expectedVersion || index < 0 || _silos[index].Status == SiloMembershipStatus.Dead
                || _silos[index].HeartbeatAt >= clock.GetUtcNow() - overdueAfter)
            {
                return false;
            }

            _silos[index] = _silos[index] with { Status = SiloMembershipStatus.Dead };
            _version++;
            return true;
        });

    public Task<SiloMembershipStatus> HeartbeatAsync(MembershipEntry silo, CancellationToken cancellationToken) =>
        RunAsync(silo.SiloId, () =>
        {
            var index = IndexOf(silo);
            if (index < 0 || _silos[index].Status == SiloMembershipStatus.Dead)
            {
                return SiloMembershipStatus.Dead;
            }

            _silos[index] = _silos[index] with { HeartbeatAt = clock.GetUtcNow() };
            return _silos[index].Status;
        });

    public Task<MembershipSnapshot> ReadAsync(CancellationToken cancellationToken) =>
        RunAsync(null, () => new MembershipSnapshot(_version, clock.GetUtcNow(), [.. _silos], [.. _partitions]));

    public Task<IReadOnlyList<PartitionEpoch>> RenewAsync(MembershipEntry silo, IReadOnlyList<PartitionEpoch> held, TimeSpan duration, CancellationToken cancellationToken) =>
        RunAsync(silo.SiloId, () =>
        {
            var renewed = new List<PartitionEpoch>();
            if (IndexOf(silo) is var index && (index < 0 || _silos[index].Status == SiloMembershipStatus.Dead))
            {
                return (IReadOnlyList<PartitionEpoch>)renewed; // a dead generation renews nothing
            }

            foreach (var lease in held)
            {
                var owner = _partitions[lease.Partition];
                if (owner.IsHeldBy(silo) && owner.Epoch == lease.Epoch)
                {
                    _partitions[lease.Partition] = owner with { ExpiresAt = clock.GetUtcNow() + duration };
                    renewed.Add(lease);
                }
            }

            return (IReadOnlyList<PartitionEpoch>)renewed;
        });

    public Task<IReadOnlyList<PartitionEpoch>> AcquireAsync(MembershipEntry silo, IReadOnlyList<int> wanted, TimeSpan duration, CancellationToken cancellationToken) =>
        RunAsync(silo.SiloId, () =>
        {
            var now = clock.GetUtcNow();
            var acquired = new List<PartitionEpoch>();
            foreach (var partition in wanted)
            {
                var owner = _partitions[partition];
                if (owner.IsAvailable(now))
                {
                    _partitions[partition] = new PartitionOwner(partition, silo.SiloId, silo.Generation, owner.Epoch + 1, now + duration);
                    acquired.Add(new PartitionEpoch(partition, owner.Epoch + 1));
                }
            }

            return (IReadOnlyList<PartitionEpoch>)acquired;
        });

    public Task ReleaseAsync(MembershipEntry silo, IReadOnlyList<int> partitions, CancellationToken cancellationToken) =>
        RunAsync(silo.SiloId, () =>
        {
            foreach (var partition in partitions)
            {
                if (_partitions[partition].IsHeldBy(silo))
                {
                    _partitions[partition] = _partitions[partition] with { SiloId = null, Generation = null, ExpiresAt = null };
                }
            }

            return true;
        });

    private int IndexOf(MembershipEntry silo) => _silos.FindIndex(entry => entry.IsSameGeneration(silo));

    private async Task<T> RunAsync<T>(string? siloId, Func<T> operation)
    {
        if (siloId is not null && BeforeRequest is { } before)
        {
            await before(siloId);
        }

        T result;
        lock (_gate)
        {
            result = operation();
        }

        if (siloId is not null && AfterRequest is { } after)
        {
            await after(siloId);
        }

        return result;
    }
}
