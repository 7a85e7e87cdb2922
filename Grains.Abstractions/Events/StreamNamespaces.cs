namespace Orchestration.Grains.Events;

/// <summary>The stream namespaces domain events are published on.</summary>
public static class StreamNamespaces
{
    /// <summary>
    /// Every domain event, as an <see cref="EventEnvelope"/>; the stream key is <c>{orgId}/{subject}</c>
    /// (for example <c>acme/tasks/build-42</c>), so the organisation is the stream's tenant.
    /// </summary>
    public const string Events = "events";
}
