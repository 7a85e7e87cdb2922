using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Streams;

public interface IBacklogConsumerGrain : IGrainWithStringKey;

/// <summary>
/// Subscribed to the <c>backlog</c> streams: records every attempt; the key <c>poison</c> always throws, and the key
/// <c>stuck</c> holds each event until the probe records <c>release:stuck</c>.
/// </summary>
[ImplicitStreamSubscription("backlog")]
public sealed class BacklogConsumerGrain(GrainProbe probe) : Grain, IBacklogConsumerGrain, IStreamConsumerGrain
{
    public async Task OnStreamEventAsync(StreamEvent streamEvent)
    {
        var key = GetPrimaryKeyString();
        probe.Record($"backlog:{key}:{streamEvent.Data.Trim('"')}");
        switch (key)
        {
            case "poison":
                throw new InvalidOperationException("poison");
            case "stuck":
                await probe.WaitForAsync("release:stuck");
                break;
        }
    }
}
