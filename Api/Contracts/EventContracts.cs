using System.Text.Json;
using Orchestration.Grains.Events;

namespace Orchestration.Api.Contracts;

/// <summary>An event as clients see it (API.md, "Events"): the grain's envelope plus its log <see cref="Sequence"/>.</summary>
internal sealed record ApiEvent(
    string Id,
    long Sequence,
    string Type,
    DateTimeOffset OccurredAt,
    string OrgId,
    EventActor Actor,
    string Subject,
    string? CorrelationId,
    string? TraceId,
    JsonElement Payload);

/// <summary>One page of <c>GET /api/v1/events</c>.</summary>
/// <param name="Items">The events, oldest first.</param>
/// <param name="Next">Pass as <c>?after=</c> for the next page; <c>null</c> at the end of the log.</param>
internal sealed record EventPage(IReadOnlyList<ApiEvent> Items, long? Next);
