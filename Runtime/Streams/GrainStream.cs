using Orchestration.Runtime.Activations;
using Orchestration.Runtime.Persistence;

namespace Orchestration.Runtime.Streams;

/// <summary>A stream used inside a grain call: items join the call's own outbox and commit with it.</summary>
internal sealed class GrainStream<T>(ActivationData activation, StreamId streamId) : IAsyncStream<T>
{
    public StreamId StreamId => streamId;

    public Task OnNextAsync(T item)
    {
        var runtime = activation.Runtime;
        return activation.AddToOutbox(EventDraft.Create(streamId, item, runtime.TimeProvider.GetUtcNow(), runtime.Json));
    }
}
