using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orchestration.Runtime.Streams;

/// <summary>
/// The record of an event an implicit subscription gave up on: written to the stream
/// (<see cref="ImplicitStreamDelivery.ParkedNamespace"/>, subscriber), so it is as durable as the event log and can be
/// followed, inspected and replayed.
/// </summary>
/// <param name="Subscriber">The subscription, <c>implicit/{grain type}/{namespace}</c>.</param>
/// <param name="GrainType">The consumer grain's type name.</param>
/// <param name="Key">The stream key, which is also the consumer grain's key.</param>
/// <param name="Sequence">The parked event's sequence in the event log.</param>
/// <param name="EventType">The parked event's type.</param>
/// <param name="Attempts">How many deliveries were tried.</param>
/// <param name="Error">The last attempt's exception type and message.</param>
internal sealed record ParkedStreamEvent(string Subscriber, string GrainType, string Key, long Sequence, string EventType, int Attempts, string Error);

/// <summary>A fixed contract, independent of the JSON settings applications choose for their own events.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ParkedStreamEvent))]
internal sealed partial class ParkedStreamEventJsonContext : JsonSerializerContext;
