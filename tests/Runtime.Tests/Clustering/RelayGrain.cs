using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Clustering;

public interface IRelayGrain : IGrainWithStringKey
{
    /// <summary>Keeps its turn until the probe records <c>release:relay</c>, then calls the gate grain <paramref name="peerKey"/>.</summary>
    Task<int> HoldThenCallAsync(string peerKey);
}

public sealed class RelayGrain(GrainProbe probe) : Grain, IRelayGrain
{
    public async Task<int> HoldThenCallAsync(string peerKey)
    {
        probe.Record("relay:hold");
        await probe.WaitForAsync("release:relay");
        return await GrainFactory.GetGrain<IPlainGateGrain>(peerKey).GetStartedCountAsync();
    }
}
