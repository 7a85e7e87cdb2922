using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Orchestration.Runtime.Activations;

namespace Orchestration.Runtime.Persistence;

/// <summary>
/// One named state of one activation. Writes go through the write batcher with the events, projection changes and
/// reminder changes the call raised; a stale version or a failed write discards the activation (and commits none of them).
/// </summary>
internal sealed class PersistentState<TState>(ActivationData activation, string stateName) : IPersistentState<TState>, IStateBinding
    where TState : new()
{
    private readonly GrainStateKey _key = new(activation.GrainId.Type, activation.GrainId.Key, stateName);
    private long _version;

    public TState State { get; set; } = new();

    public string? Etag => _version == 0 ? null : _version.ToString(CultureInfo.InvariantCulture);

    public bool RecordExists => _version != 0;

    private JsonTypeInfo<TState> TypeInfo => (JsonTypeInfo<TState>)activation.Runtime.Json.GetTypeInfo(typeof(TState));

    public Task ReadAsync() => ReadStateAsync();

    public async Task ReadStateAsync()
    {
        var record = await activation.Runtime.Storage.ReadStateAsync(_key, CancellationToken.None);
        State = record is null ? new TState() : JsonSerializer.Deserialize(record.Data, TypeInfo) ?? new TState();
        _version = record?.Version ?? 0;
    }

    public async Task WriteStateAsync()
    {
        var outbox = activation.DrainOutbox();
        var write = activation.Fenced(
            StorageWrite.State(_key, JsonSerializer.Serialize(State, TypeInfo), _version, outbox.Events, outbox.Projections, outbox.Reminders));
        await CommitAsync(write);
    }

    public async Task ClearStateAsync()
    {
        var outbox = activation.DrainOutbox();
        var write = activation.Fenced(StorageWrite.Delete(_key, _version, outbox.Events, outbox.Projections, outbox.Reminders));
        await CommitAsync(write);
        State = new TState();
    }

    private async Task CommitAsync(StorageWrite write)
    {
        // Through the reminder service: reminder changes in the write reach the schedule once it has committed.
        try
        {
            await activation.Runtime.Reminders.CommitAsync(write);
        }
        catch
        {
            // Whether it stored is unknown (a timeout, a connection lost around the commit), so the state and version
            // in memory may no longer be storage's: the activation leaves once idle and the next one reads them again.
            activation.RequestDeactivation(DeactivationReason.InconsistentState);
            throw;
        }

        if (write.Conflict)
        {
            activation.RequestDeactivation(DeactivationReason.InconsistentState);
            throw new InconsistentStateException(activation.GrainId, _key.StateName, Etag);
        }

        _version = write.NewVersion;
    }
}
