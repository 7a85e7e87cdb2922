using System.Collections.Concurrent;

namespace Orchestration.Runtime.Core;

/// <summary>This silo's activations by grain id: at most one per id.</summary>
internal sealed class ActivationDirectory(SiloRuntime runtime)
{
    private readonly ConcurrentDictionary<GrainId, ActivationData> _activations = new();

    public int Count => _activations.Count;

    public IEnumerable<ActivationData> All => _activations.Values;

    /// <summary>Returns the activation for <paramref name="grainId"/>, creating it (not yet activated) if needed.</summary>
    public ActivationData GetOrCreate(GrainId grainId)
    {
        if (_activations.TryGetValue(grainId, out var existing))
        {
            return existing;
        }

        var grainClass = runtime.Registry.GetClass(grainId.Type);
        // Losing the race only discards an object that has done nothing yet.
        return _activations.GetOrAdd(grainId, new ActivationData(runtime, grainClass, grainId));
    }

    public void Remove(ActivationData activation) =>
        _activations.TryRemove(new KeyValuePair<GrainId, ActivationData>(activation.GrainId, activation));
}
