using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Streams;

public interface IOrderedConsumerGrain : IGrainWithStringKey;

/// <summary>
/// Subscribed to the <c>ordered</c> streams: records each delivery as <c>ordered:{key}:{sequence}</c>, in the order it
/// sees them, and takes a little while over each, so a backlog builds up behind it. The key <c>held</c> holds each
/// event until the probe records <c>release:held</c>.
/// </summary>
[ImplicitStreamSubscription("ordered")]
public sealed class OrderedConsumerGrain(GrainProbe probe) : Grain, IOrderedConsumerGrain, IStreamConsumerGrain
{
    public async Task OnStreamEventAsync(StreamEvent streamEvent)
    {
        var key = GetPrimaryKeyString();
        probe.Record($"ordered:{key}:{streamEvent.Sequence}");
        if (key == "held")
        {
            await probe.WaitForAsync("release:held");
        }

        await Task.Delay(15);
    }
}
