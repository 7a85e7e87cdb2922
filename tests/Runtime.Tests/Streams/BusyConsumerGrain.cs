using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Streams;

public interface IBusyConsumerGrain : IGrainWithStringKey
{
    Task HoldAsync();
}

/// <summary>Subscribed to <c>busy</c>; <see cref="HoldAsync"/> keeps a turn running until the probe records <c>release:busy</c>.</summary>
[ImplicitStreamSubscription("busy")]
public sealed class BusyConsumerGrain(GrainProbe probe) : Grain, IBusyConsumerGrain, IStreamConsumerGrain
{
    public async Task HoldAsync()
    {
        probe.Record("busy:hold");
        await probe.WaitForAsync("release:busy");
    }

    public Task OnStreamEventAsync(StreamEvent streamEvent)
    {
        probe.Record($"busy:{GetPrimaryKeyString()}:{streamEvent.Sequence}");
        return Task.CompletedTask;
    }
}
