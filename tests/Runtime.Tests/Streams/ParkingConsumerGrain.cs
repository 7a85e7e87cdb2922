using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Streams;

public interface IParkingConsumerGrain : IGrainWithStringKey;

/// <summary>Subscribed to the <c>parking</c> streams: records every attempt, and always throws for the key <c>poison</c>.</summary>
[ImplicitStreamSubscription("parking")]
public sealed class ParkingConsumerGrain(GrainProbe probe) : Grain, IParkingConsumerGrain, IStreamConsumerGrain
{
    public Task OnStreamEventAsync(StreamEvent streamEvent)
    {
        var key = GetPrimaryKeyString();
        probe.Record($"parking:{key}:{streamEvent.Data.Trim('"')}");
        return key == "poison" ? throw new InvalidOperationException("poison") : Task.CompletedTask;
    }
}
