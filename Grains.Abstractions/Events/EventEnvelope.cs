using System.Text.Json;
using Orchestration.Runtime.Streams;

namespace Orchestration.Grains.Events;

/// <summary>
/// The one envelope every domain event travels in (API.md, "Events"): appended to the durable event log in the same
/// transaction as the state change that raised it, served over Server-Sent Events, and kept as the audit trail.
/// </summary>
/// <param name="Id">A unique id of the event.</param>
/// <param name="Type">The event type, for example <c>task.claimed</c>.</param>
/// <param name="OccurredAt">When it happened (UTC).</param>
/// <param name="OrgId">The organisation it belongs to.</param>
/// <param name="Actor">Who caused it.</param>
/// <param name="Subject">The grain key it is about, for example <c>acme/task-42</c>.</param>
/// <param name="CorrelationId">The workflow it belongs to, if any.</param>
/// <param name="TraceId">The W3C trace id of the request that caused it, if any.</param>
/// <param name="Payload">Type-specific data.</param>
public sealed record EventEnvelope(
    string Id,
    string Type,
    DateTimeOffset OccurredAt,
    string OrgId,
    EventActor Actor,
    string Subject,
    string? CorrelationId,
    string? TraceId,
    JsonElement Payload) : IStreamEvent
{
    /// <inheritdoc />
    string IStreamEvent.EventType => Type;
}
