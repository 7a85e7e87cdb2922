namespace Orchestration.Runtime.Streams;

/// <summary>Implemented by grains with <see cref="ImplicitStreamSubscriptionAttribute"/>; each event arrives as a call.</summary>
public interface IStreamConsumerGrain : IGrainWithStringKey
{
    /// <summary>Handles one event. Throwing makes the runtime deliver it again later.</summary>
    Task OnStreamEventAsync(StreamEvent streamEvent);
}
