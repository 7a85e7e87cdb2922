using System.Text.Json;
using Orchestration.Api.Contracts;
using Orchestration.Grains;
using Orchestration.Grains.Events;
using Orchestration.Runtime.Streams;

namespace Orchestration.Api.Events;

/// <summary>Turns log entries into the API's event envelope.</summary>
internal static class ApiEvents
{
    /// <summary>The API envelope of a domain event of <paramref name="orgId"/>; <c>null</c> for anything else in the log.</summary>
    public static ApiEvent? From(StreamEvent entry, string orgId)
    {
        if (entry.StreamId.Namespace != StreamNamespaces.Events)
        {
            return null;
        }

        EventEnvelope envelope;
        try
        {
            envelope = entry.Deserialize(GrainContractsJsonContext.Default.EventEnvelope);
        }
        catch (JsonException)
        {
            return null;
        }

        if (!string.Equals(envelope.OrgId, orgId, StringComparison.Ordinal))
        {
            return null; // the storage filters by tenant already; this is the second lock on the door
        }

        return new ApiEvent(envelope.Id, entry.Sequence, envelope.Type, envelope.OccurredAt, envelope.OrgId, envelope.Actor, envelope.Subject,
            envelope.CorrelationId, envelope.TraceId, envelope.Payload);
    }
}
