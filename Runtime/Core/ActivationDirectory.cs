using System.Collections.Concurrent;

namespace Orchestration.Runtime.Core;

/// <summary>This silo's activations by grain id: at most one per id.</summary>
internal sealed class ActivationDirectory(SiloRuntime runtime)
{
    private readonly ConcurrentDictionary<GrainId, ActivationData> _activations = new();
    private TaskCompletionSource? _emptied;

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

    public void Remove(ActivationData activation)
    {
        if (_activations.TryRemove(new KeyValuePair<GrainId, ActivationData>(activation.GrainId, activation)) && _activations.IsEmpty)
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
