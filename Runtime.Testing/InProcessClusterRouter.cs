using System.Collections.Concurrent;
using System.Collections.Immutable;
using Orchestration.Runtime.Activations;
using Orchestration.Runtime.Calls;
using Orchestration.Runtime.Placement;

namespace Orchestration.Runtime.Testing;

/// <summary>
/// Places grains on the silos of one process by rendezvous (highest random weight) hashing: each grain goes to the
/// silo with the highest hash of (silo, grain), so adding or removing a silo moves only the grains that hash to it.
/// Also the cluster's grain directory: while a moving grain's old activation finishes, calls wait there.
/// </summary>
internal sealed class InProcessClusterRouter : IClusterRouter, IClusterMembership, IGrainDirectory
{
    private readonly ConcurrentDictionary<GrainId, ActivationData> _registrations = new();
    private ImmutableArray<SiloRuntime> _silos = [];

    public IReadOnlyList<SiloRuntime> Silos => _silos;

    public void Add(SiloRuntime silo) => ImmutableInterlocked.Update(ref _silos, static (list, item) => list.Add(item), silo);

    public void Remove(SiloRuntime silo) => ImmutableInterlocked.Update(ref _silos, static (list, item) => list.Remove(item), silo);

    // A silo that has left owns nothing, even when one silo remains: what it still holds must move to the survivor.
    public bool IsLocal(SiloRuntime silo, GrainId grainId)
    {
        var silos = _silos;
        return silos.Length switch
        {
            0 => true,
            1 => silos[0] == silo,
            _ => Owner(grainId) == silo,
        };
    }

    public bool LeasesOwnership => false;

    public Clustering.PartitionLease? LeaseFor(GrainId grainId) => null;

    public void Forward(GrainId grainId, IGrainMessage message) => Owner(grainId).Dispatcher.DeliverLocally(grainId, message);

    public ActivationData Register(ActivationData activation) => _registrations.GetOrAdd(activation.GrainId, activation);

    public void Unregister(ActivationData activation) =>
        _registrations.TryRemove(new KeyValuePair<GrainId, ActivationData>(activation.GrainId, activation));

    private SiloRuntime Owner(GrainId grainId)
    {
        var silos = _silos;
        if (silos.IsEmpty)
        {
            throw new InvalidOperationException("No silo is running.");
        }

        var owner = silos[0];
        var best = 0UL;
        foreach (var silo in silos)
        {
            var weight = RendezvousHash.Weight(silo.Options.SiloId, grainId);
            if (weight >= best)
            {
                best = weight;
                owner = silo;
            }
        }

        return owner;
    }
}
