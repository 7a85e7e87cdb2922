using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Placement;

/// <summary>A silo leaving a cluster of two: what it still holds moves to the survivor, with no failed call.</summary>
public sealed class SiloLeaveTests
{
    [Fact]
    public async Task StopSilo_CallWaitingOnTheLeavingSilo_RunsOnTheSurvivor()
    {
        var probe = new GrainProbe();
        await using var cluster = await TestClusterFactory.StartAsync(probe, siloCount: 2);
        var leaving = cluster.Silos[1];
        var key = await FirstKeyOnAsync(cluster.GrainFactory, leaving);
        var grain = cluster.GrainFactory.GetGrain<IBlockingTimerGrain>(key);
        var blocked = grain.BlockAsync();
        await probe.WaitForAsync($"blocked:{key}");

        leaving.Runtime.Directory.All.Single(activation => activation.GrainId.Key == key).RequestDeactivation(DeactivationReason.ShuttingDown);

        var stopping = cluster.StopSiloAsync(leaving); // leaves the router at once, then waits for the blocked call
        var waiting = grain.PingAsync(); // reaches the old activation (still registered), which hands it on when gone
        probe.Record($"open:{key}");
        await blocked;
        await stopping;

        await waiting.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(cluster.Silos[0].Runtime.Directory.TryGet(new GrainId("blockingtimer", key), out _));
    }

    private static async Task<string> FirstKeyOnAsync(IGrainFactory factory, Testing.TestSilo silo)
    {
        for (var i = 0; ; i++)
        {
            var key = $"org/s{i}";
            await factory.GetGrain<IBlockingTimerGrain>(key).PingAsync();
            if (silo.Runtime.Directory.TryGet(new GrainId("blockingtimer", key), out _))
            {
                return key;
            }
        }
    }
}
