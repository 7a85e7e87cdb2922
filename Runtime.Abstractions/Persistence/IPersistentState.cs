namespace Orchestration.Runtime;

/// <summary>
/// One named piece of a grain's durable state, injected into the grain's constructor with
/// <see cref="PersistentStateAttribute"/> and read before <see cref="Grain.OnActivateAsync"/>.
/// </summary>
/// <typeparam name="TState">A System.Text.Json-serializable type with a public parameterless constructor.</typeparam>
public interface IPersistentState<TState> where TState : new()
{
    /// <summary>The current state. A new <typeparamref name="TState"/> when nothing is stored.</summary>
    TState State { get; set; }

    /// <summary>The stored version this activation last read or wrote; <c>null</c> when nothing is stored.</summary>
    string? Etag { get; }

    /// <summary>Whether a record exists in storage.</summary>
    bool RecordExists { get; }

    /// <summary>Re-reads the state from storage, discarding unsaved changes.</summary>
    Task ReadStateAsync();

    /// <summary>
    /// Writes the state, together with the events this call raised, in one transaction. Completes once durable.
    /// </summary>
    /// <exception cref="InconsistentStateException">Storage holds a newer version; the activation is discarded.</exception>
    Task WriteStateAsync();

    /// <summary>Deletes the stored record (with the same version check as a write) and resets <see cref="State"/>.</summary>
    /// <exception cref="InconsistentStateException">Storage holds a newer version; the activation is discarded.</exception>
    Task ClearStateAsync();
}
