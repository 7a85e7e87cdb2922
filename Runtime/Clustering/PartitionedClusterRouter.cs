using Orchestration.Runtime.Calls;
using Orchestration.Runtime.Calls.Remote;
using Orchestration.Runtime.Placement;

namespace Orchestration.Runtime.Clustering;

/// <summary>
/// Placement in a cluster of processes: a grain is local while this silo's lease of its partition accepts calls (and
/// a new activation starts in that lease period, whose epoch fences its writes); every other call goes to the owner
/// over the transport. Also the partitions' host for the lease keeper: drains and discards their activations.
/// </summary>
internal sealed class PartitionedClusterRouter(SiloRuntime runtime, RemoteGrainCaller caller) : IClusterRouter, IPartitionHost
{
    private PartitionLeaseKeeper? _keeper;

    /// <summary>This silo's lease keeper; null in a client, which serves no partition.</summary>
    public PartitionLeaseKeeper? Keeper
    {
        get => Volatile.Read(ref _keeper);
        set => Volatile.Write(ref _keeper, value);
    }

    public bool IsLocal(SiloRuntime silo, GrainId grainId) => Keeper?.TryGetAccepting(ClusterPartitions.Of(grainId)) is not null;

    public bool LeasesOwnership => true;

    public PartitionLease? LeaseFor(GrainId grainId) => Keeper?.TryGetAccepting(ClusterPartitions.Of(grainId));

    public void Forward(GrainId grainId, IGrainMessage message) => caller.Send(grainId, message);

    /// <summary>
    /// Hands the <paramref name="periods"/> over: first their reminder ticks and the stream subscriptions they lead end,
    /// then every activation of theirs is asked to deactivate (they finish their turns and write); completes when none is
    /// left, or the periods ended. Activations and subscription runs started meanwhile (having passed the check just
    /// before the drain began) are caught by the next look. Only those periods' activations: if the partition comes back
    /// under a new period, its activations are not touched.
    /// </summary>
    /// <remarks>
    /// Ticks and deliveries end first because they are calls that may wait in the queue of one of these activations: a
    /// deactivation hands its queued calls to the partition's next owner, which gets it only once this drain completes.
    /// </remarks>
    public async Task DrainAsync(IReadOnlyList<PartitionLease> periods)
    {
        var draining = periods.ToHashSet();
        // Reminder ticks that started in these periods end first, their completion included: a one-shot that ticked is
        // deleted under the period it ticked in, not fired again by the next owner.
        var ticks = runtime.Reminders.TicksEndedAsync(periods.Select(period => period.Partition).ToHashSet());
        while (true)
        {
            if (periods.All(period => period.HasEnded))
            {
                return;
            }

            // Asked again every round: a run that began just before the periods stopped accepting is stopped too.
            var callsEnded = runtime.StreamDelivery.StopLeads(draining) && ticks.IsCompleted;
            var left = runtime.Directory.All.Where(activation => activation.Lease is { } lease && draining.Contains(lease)).ToList();
            if (callsEnded && left.Count == 0)
            {
                return;
            }

            if (callsEnded)
            {
                foreach (var activation in left)
                {
                    activation.RequestDeactivation(DeactivationReason.PlacementChanged);
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), runtime.TimeProvider);
        }
    }

    public void Acquired(IReadOnlyList<PartitionLease> periods, IReadOnlyList<int> failedOver) => _ = TakeOverRemindersAsync(periods, failedOver);

    private async Task TakeOverRemindersAsync(IReadOnlyList<PartitionLease> periods, IReadOnlyList<int> failedOver)
    {
        try
        {
            await runtime.Reminders.TakeOverAsync(periods, failedOver, runtime.ShutdownToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Discard(PartitionLease period)
    {
        runtime.StreamDelivery.StopLeads(new HashSet<PartitionLease> { period });
        foreach (var activation in runtime.Directory.All.Where(activation => activation.Lease == period))
        {
            activation.RequestDeactivation(DeactivationReason.OwnershipLost);
        }
    }
}
