namespace Orchestration.Runtime.Clustering;

/// <summary>One silo generation's membership row.</summary>
internal sealed record MembershipEntry(
    string SiloId, long Generation, string Address, SiloMembershipStatus Status, DateTimeOffset StartedAt, DateTimeOffset HeartbeatAt)
{
    public bool IsSameGeneration(MembershipEntry other) => SiloId == other.SiloId && Generation == other.Generation;

    public override string ToString() => $"{SiloId}#{Generation}";
}

/// <summary>One partition's lease row: the owner generation (none when free), its epoch and, in table time, its expiry.</summary>
internal sealed record PartitionOwner(int Partition, string? SiloId, long? Generation, long Epoch, DateTimeOffset? ExpiresAt)
{
    public bool IsHeldBy(MembershipEntry silo) => SiloId == silo.SiloId && Generation == silo.Generation;

    /// <summary>Free, or its owner let the lease lapse (by the table's clock).</summary>
    public bool IsAvailable(DateTimeOffset tableNow) => SiloId is null || ExpiresAt is null || ExpiresAt < tableNow;
}

/// <summary>The membership table and the partition leases as read at one instant of the table's clock.</summary>
internal sealed record MembershipSnapshot(
    long Version, DateTimeOffset Now, IReadOnlyList<MembershipEntry> Silos, IReadOnlyList<PartitionOwner> Partitions);

/// <summary>A partition and the epoch a lease was granted or renewed under.</summary>
internal readonly record struct PartitionEpoch(int Partition, long Epoch);
