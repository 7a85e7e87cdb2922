namespace Orchestration.Runtime.Clustering;

/// <summary>
/// Where each partition is served, as last read from the membership table: every process (silo or client) keeps one
/// and routes calls straight to the owner. Refreshed by the table's reads (a silo's lease rounds, a client's polling),
/// on a NOTIFY hint, and whenever a silo answers "not mine"; stale entries only cost a retry, never a wrong write,
/// since the owner checks its lease and the database checks the epoch.
/// </summary>
internal sealed class ClusterMap(IMembershipTable table)
{
    private readonly SemaphoreSlim _refreshGate = new(1, 1);
    private volatile string?[] _owners = new string?[ClusterPartitions.Count];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _refreshes;

    /// <summary>The snapshot the map was last built from.</summary>
    public MembershipSnapshot? Snapshot { get; private set; }

    /// <summary>The address of the silo serving <paramref name="partition"/>, or null when no live lease holds it.</summary>
    public string? OwnerOf(int partition) => _owners[partition];

    /// <summary>Rebuilds the map from <paramref name="snapshot"/> (live leases of silos not declared dead).</summary>
    public void Update(MembershipSnapshot snapshot)
    {
        var addresses = snapshot.Silos
            .Where(silo => silo.Status != SiloMembershipStatus.Dead)
            .ToDictionary(silo => (silo.SiloId, silo.Generation), silo => silo.Address);
        var owners = new string?[ClusterPartitions.Count];
        foreach (var owner in snapshot.Partitions)
        {
            if (owner is { SiloId: { } silo, Generation: { } generation } && !owner.IsAvailable(snapshot.Now)
                && addresses.TryGetValue((silo, generation), out var address))
            {
                owners[owner.Partition] = address;
            }
        }

        Snapshot = snapshot;
        _owners = owners;
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>
    /// Reads the table again, unless another caller's read started after this call did (one read serves every caller
    /// that was waiting for it).
    /// </summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var seen = Interlocked.Read(ref _refreshes);
        await _refreshGate.WaitAsync(cancellationToken);
        try
        {
            if (Interlocked.Read(ref _refreshes) != seen)
            {
                return;
            }

            Update(await table.ReadAsync(cancellationToken));
            Interlocked.Increment(ref _refreshes);
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    /// <summary>Completes at the map's next update, or after <paramref name="timeout"/>.</summary>
    public Task WhenChangedAsync(TimeSpan timeout, TimeProvider time) =>
        Volatile.Read(ref _changed).Task.WaitAsync(timeout, time).ContinueWith(static _ => { }, TaskScheduler.Default);
}
