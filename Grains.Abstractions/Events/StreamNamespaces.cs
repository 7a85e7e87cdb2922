namespace Orchestration.Grains.Events;

/// <summary>The stream namespaces domain events are published on.</summary>
public static class StreamNamespaces
{
    /// <summary>Every event of one organisation, keyed by the org id: what the dashboard and SSE clients follow.</summary>
    public const string OrgEvents = "org-events";
}
