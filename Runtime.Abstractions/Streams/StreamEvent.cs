using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Orchestration.Runtime.Streams;

/// <summary>One committed item of the durable event log.</summary>
/// <param name="Sequence">Position in the log: strictly increasing in commit order, across all streams.</param>
/// <param name="StreamId">The stream the item was published to.</param>
/// <param name="Type">The item's event type (see <see cref="IStreamEvent"/>).</param>
/// <param name="Timestamp">When the item was published.</param>
/// <param name="Data">The item as JSON.</param>
public sealed record StreamEvent(long Sequence, StreamId StreamId, string Type, DateTimeOffset Timestamp, string Data)
{
    /// <summary>Deserializes <see cref="Data"/> with the given type metadata (source-generated or reflection-based).</summary>
    public T Deserialize<T>(JsonTypeInfo<T> typeInfo) =>
        JsonSerializer.Deserialize(Data, typeInfo) ?? throw new JsonException($"Event {Sequence} holds null.");
}
