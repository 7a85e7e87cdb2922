using System.Collections.Concurrent;
using Orchestration.Runtime.Placement;

namespace Orchestration.Runtime.Activations;

/// <summary>This silo's activations by grain id: at most one per id (and, in a cluster, at most one across silos).</summary>
internal sealed class ActivationDirectory(SiloRuntime runtime)
{
    private readonly ConcurrentDictionary<GrainId, ActivationData> _activations = new();
    private TaskCompletionSource? _emptied;

    public int Count => _activations.Count;

    public IEnumerable<ActivationData> All => _activations.Values;

    public bool TryGet(GrainId grainId, out ActivationData activation) => _activations.TryGetValue(grainId, out activation!);

    /// <summary>
    /// Returns the grain's activation, creating one (not yet activated, in <paramref name="lease"/>'s period when ownership
    /// is leased) if needed. In a cluster the new activation must
    /// first register in the grain directory; when another silo's activation holds the grain, that one is returned.
    /// </summary>
    /// <remarks>
    /// With <c>joinsHandOver</c>, started by a turn of the lease's own period while that period is handed over (see
    /// <see cref="Calls.GrainCallDispatcher"/>): it may start while the period only serves, since the hand-over cannot
    /// end while the calling activation lives, and it deactivates this one on its next look.
    /// </remarks>
    public ActivationData GetOrAdd(GrainId grainId, GrainClassInfo grainClass, Clustering.PartitionLease? lease = null, bool joinsHandOver = false)
    {
        var created = new ActivationData(runtime, grainClass, grainId, lease);
        if (runtime.Router is IGrainDirectory cluster)
        {
            var registered = cluster.Register(created);
            if (registered != created)
            {
                return registered;
            }

            if (!joinsHandOver && !runtime.Router.IsLocal(runtime, grainId))
            {
                // Sent here before the silos changed: serve nothing, hand the call on to the owner once gone.
                created.RequestDeactivation(DeactivationReason.PlacementChanged);
            }
        }

        // Without a cluster, losing this race only discards an object that has done nothing yet. In a cluster the
        // registration above already decided the winner; an entry still here can only be a predecessor that has gone
        // (invalid, about to remove itself), which the winner replaces so it is never missing from this directory.
        while (true)
        {
            if (_activations.TryAdd(grainId, created))
            {
                LeaveIfPeriodClosed(created, joinsHandOver);
                return created;
            }

            if (_activations.TryGetValue(grainId, out var existing))
            {
                if (!existing.IsInvalid || runtime.Router is not IGrainDirectory)
                {
                    return existing;
                }

                if (_activations.TryUpdate(grainId, created, existing))
                {
                    LeaveIfPeriodClosed(created, joinsHandOver);
                    return created;
                }
            }
        }
    }

    /// <summary>
    /// A call checks that its partition's lease period accepts new activations before it adds one, but the period can
    /// begin its hand-over or end in between, and the drain or discard then looks for the period's activations once: an
    /// activation added after that look would outlive its period, and a later period of the partition here would find it
    /// and send calls to it whose writes its old epoch fences. So the period is checked again once the activation is in
    /// the directory (fenced against <see cref="Clustering.PartitionLease.BeginDrain"/>): closed, the new activation
    /// leaves before it activates and hands its calls on to the partition's owner.
    /// </summary>
    private void LeaveIfPeriodClosed(ActivationData created, bool joinsHandOver)
    {
        if (created.Lease is not { } lease)
        {
            return;
        }

        Interlocked.MemoryBarrier();
        var now = runtime.TimeProvider.GetTimestamp();
        if (joinsHandOver ? !lease.IsServing(now) : !lease.IsAccepting(now))
        {
            created.RequestDeactivation(lease.HasEnded ? DeactivationReason.OwnershipLost : DeactivationReason.PlacementChanged);
        }
    }

    /// <summary>Removes the activation here, then its registration, so a successor never overlaps it.</summary>
    public void Remove(ActivationData activation)
    {
        var removed = _activations.TryRemove(new KeyValuePair<GrainId, ActivationData>(activation.GrainId, activation));
        (runtime.Router as IGrainDirectory)?.Unregister(activation);
        if (removed && _activations.IsEmpty)
        {
            Volatile.Read(ref _emptied)?.TrySetResult();
        }
    }

    /// <summary>Completes once no activation is left (used at shutdown, after every activation was asked to go).</summary>
    public Task WhenEmptyAsync()
    {
        var emptied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _emptied, emptied);
        if (_activations.IsEmpty)
        {
            emptied.TrySetResult();
        }

        return emptied.Task;
    }
}
