namespace Orchestration.Runtime.Streams;

/// <summary>A durable stream items are published to. Order within one stream is preserved.</summary>
public interface IAsyncStream<in T>
{
    /// <summary>The stream's id.</summary>
    StreamId StreamId { get; }

    /// <summary>
    /// Publishes an item. Inside a grain call the item joins that call's commit; outside a grain the item is committed
    /// on its own. Either way, subscribers see it only after it is durable.
    /// </summary>
    Task OnNextAsync(T item);
}
