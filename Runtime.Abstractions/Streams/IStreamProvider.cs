namespace Orchestration.Runtime.Streams;

/// <summary>Gives streams to code outside grains (grains use <see cref="Grain"/>'s GetStream instead).</summary>
public interface IStreamProvider
{
    /// <summary>Returns the stream with <paramref name="streamId"/>; publishing on it commits each item on its own.</summary>
    IAsyncStream<T> GetStream<T>(StreamId streamId);
}
