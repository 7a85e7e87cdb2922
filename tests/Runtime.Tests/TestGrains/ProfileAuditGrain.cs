using Orchestration.Runtime.Streams;

namespace Orchestration.Runtime.Tests.TestGrains;

public interface IProfileAuditGrain : IGrainWithStringKey
{
    Task<IReadOnlyList<long>> GetSeenSequencesAsync();
}

/// <summary>Subscribed to every profile stream: the audit grain with key K sees the events of profile K.</summary>
[ImplicitStreamSubscription("profiles")]
public sealed class ProfileAuditGrain(GrainProbe probe) : Grain, IProfileAuditGrain, IStreamConsumerGrain
{
    private readonly List<long> _seen = [];

    public Task OnStreamEventAsync(StreamEvent streamEvent)
    {
        _seen.Add(streamEvent.Sequence);
        probe.Record($"audit:{GetPrimaryKeyString()}:{streamEvent.Sequence}");
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<long>> GetSeenSequencesAsync() => Task.FromResult<IReadOnlyList<long>>(_seen.ToList());
}
