using Orchestration.Runtime.Persistence;

namespace Orchestration.Runtime.Streams;

/// <summary>A stream used outside grains: each item commits on its own (group-committed with other writes).</summary>
internal sealed class CommittingStream<T>(SiloRuntime runtime, StreamId streamId) : IAsyncStream<T>
{
    public StreamId StreamId => streamId;

    public Task OnNextAsync(T item) =>
        runtime.Batcher.SubmitAsync(StorageWrite.EventsOnly([EventDraft.Create(streamId, item, runtime.TimeProvider.GetUtcNow(), runtime.Json)]));
}
