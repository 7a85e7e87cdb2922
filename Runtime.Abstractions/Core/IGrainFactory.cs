namespace Orchestration.Runtime;

/// <summary>Creates references to grains. Usable inside grains and from outside the silo alike.</summary>
public interface IGrainFactory
{
    /// <summary>
    /// Returns a reference to the grain of interface <typeparamref name="TGrainInterface"/> with <paramref name="key"/>.
    /// No activation happens until the first call; references are cheap and may be kept or discarded freely.
    /// </summary>
    /// <exception cref="ArgumentException">The key is empty, or no grain class implements the interface.</exception>
    TGrainInterface GetGrain<TGrainInterface>(string key) where TGrainInterface : IGrainWithStringKey;
}
