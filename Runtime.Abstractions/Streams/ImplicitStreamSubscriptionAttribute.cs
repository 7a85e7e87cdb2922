namespace Orchestration.Runtime.Streams;

/// <summary>
/// Subscribes a grain class to every stream of a namespace: the event of stream <c>(namespace, key)</c> is delivered to
/// the grain with that key through <see cref="IStreamConsumerGrain.OnStreamEventAsync"/>. Delivery is at least once,
/// in order per stream; use <see cref="StreamEvent.Sequence"/> to drop duplicates.
/// </summary>
/// <param name="streamNamespace">The namespace to subscribe to.</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class ImplicitStreamSubscriptionAttribute(string streamNamespace) : Attribute
{
    /// <summary>The namespace subscribed to.</summary>
    public string StreamNamespace { get; } = streamNamespace;
}
