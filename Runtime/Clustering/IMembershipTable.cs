namespace Orchestration.Runtime.Clustering;

/// <summary>
/// The cluster's arbiter: membership rows with a version (every status change is a version-checked update, as in
/// Orleans' membership table) and partition leases with epochs. PostgreSQL in production; a fake in tests.
/// Times of the table (heartbeats, expiries) are the table's clock; lease holders never compare them with their own.
/// </summary>
internal interface IMembershipTable
{
    /// <summary>Registers a new generation of <paramref name="siloId"/> as <see cref="SiloMembershipStatus.Joining"/>.</summary>
    Task<MembershipEntry> JoinAsync(string siloId, string address, CancellationToken cancellationToken);

    /// <summary>Sets the generation's status if the table is still at <paramref name="expectedVersion"/>; false otherwise.</summary>
    Task<bool> TryUpdateStatusAsync(MembershipEntry silo, SiloMembershipStatus status, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>
    /// Declares <paramref name="suspect"/> dead if the table is still at <paramref name="expectedVersion"/> and its last
    /// heartbeat is older than <paramref name="overdueAfter"/> by the table's clock; false otherwise.
    /// </summary>
    Task<bool> TryDeclareDeadAsync(MembershipEntry suspect, TimeSpan overdueAfter, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>Records that the generation is alive (not a membership change: the version stays). Returns its status.</summary>
    Task<SiloMembershipStatus> HeartbeatAsync(MembershipEntry silo, CancellationToken cancellationToken);

    Task<MembershipSnapshot> ReadAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Extends, to the table's now + <paramref name="duration"/>, the leases the generation still holds at the given epochs;
    /// returns those. A lease not returned was lost (taken over after it expired, or released).
    /// </summary>
    Task<IReadOnlyList<PartitionEpoch>> RenewAsync(MembershipEntry silo, IReadOnlyList<PartitionEpoch> held, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>
    /// Takes those of <paramref name="wanted"/> that are free or expired, each under a new epoch, for
    /// <paramref name="duration"/>; returns what it took. Serialised with every fenced commit (see the fence lock).
    /// </summary>
    Task<IReadOnlyList<PartitionEpoch>> AcquireAsync(MembershipEntry silo, IReadOnlyList<int> wanted, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Frees the generation's leases on <paramref name="partitions"/> (after it stopped serving them).</summary>
    Task ReleaseAsync(MembershipEntry silo, IReadOnlyList<int> partitions, CancellationToken cancellationToken);
}
