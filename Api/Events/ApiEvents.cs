using System.Text.Json;
using Orchestration.Api.Contracts;
using Orchestration.Grains;
using Orchestration.Grains.Events;
using Orchestration.Runtime.Streams;

namespace Orchestration.Api.Events;

/// <summary>Turns log entries into the API's event envelope.</summary>
internal static class ApiEvents
{
    // Domain events travel on one namespace; both spellings in use are accepted until the contract settles on one.
    private static readonly string[] s_namespaces = ["events", StreamNamespaces.OrgEvents];

    /// <summary>The API envelope of a domain event of <paramref name="orgId"/>; <c>null</c> for anything else in the log.</summary>
    public static ApiEvent? From(StreamEvent entry, string orgId)
    {
        if (!s_namespaces.Contains(entry.StreamId.Namespace, StringComparer.Ordinal))
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

        var subject = envelope.Subject.StartsWith(orgId + "/", StringComparison.Ordinal) ? envelope.Subject[(orgId.Length + 1)..] : envelope.Subject;
        return new ApiEvent(envelope.Id, entry.Sequence, envelope.Type, envelope.OccurredAt, envelope.OrgId, envelope.Actor, subject,
            envelope.CorrelationId, envelope.TraceId, envelope.Payload);
    }
}
