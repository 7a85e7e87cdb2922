using System.Text.Json;
using Orchestration.Runtime.Streams;

namespace Orchestration.Runtime.Persistence;

/// <summary>An event raised but not yet committed; the commit gives it its sequence.</summary>
internal sealed record EventDraft(StreamId StreamId, string Type, DateTimeOffset Timestamp, string Data)
{
    public static EventDraft Create<T>(StreamId streamId, T item, DateTimeOffset timestamp, JsonSerializerOptions json)
    {
        ArgumentNullException.ThrowIfNull(item);
        var type = item is IStreamEvent typed ? typed.EventType : typeof(T).Name;
        return new EventDraft(streamId, type, timestamp, JsonSerializer.Serialize(item, json.GetTypeInfo(typeof(T))));
    }

    public StreamEvent ToCommitted(long sequence) => new(sequence, StreamId, Type, Timestamp, Data);
}
