namespace Orchestration.Runtime.Streams;

/// <summary>Streams for code outside grains.</summary>
internal sealed class StreamProvider(SiloRuntime runtime) : IStreamProvider
{
    public IAsyncStream<T> GetStream<T>(StreamId streamId) => new CommittingStream<T>(runtime, streamId);
}
