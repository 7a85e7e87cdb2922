using Orchestration.Bench;
using Orchestration.Runtime.Testing;

namespace Orchestration.Runtime.Bench;

/// <summary>activation.bytes: managed memory per idle activation of an empty grain, against a budget of 1,024 bytes.</summary>
internal static class ActivationMemoryBenchmark
{
    private const double BudgetBytes = 1024;
    private const int Batch = 10_000;

    public static async Task<Result> RunAsync(Settings settings)
    {
        await using var cluster = await TestCluster.StartAsync(builder => builder.AddGrains(typeof(EmptyGrain).Assembly).UseMemoryStorage());
        var factory = cluster.GrainFactory;
        await factory.GetGrain<IEmptyGrain>("warm").TouchAsync();

        var before = SettledHeap();
        for (var start = 0; start < settings.Activations; start += Batch)
        {
            await Task.WhenAll(Enumerable.Range(start, Math.Min(Batch, settings.Activations - start))
                .Select(i => factory.GetGrain<IEmptyGrain>($"empty-{i}").TouchAsync()));
        }

        var after = SettledHeap();
        if (cluster.Silos[0].ActivationCount < settings.Activations)
        {
            throw new InvalidOperationException($"Only {cluster.Silos[0].ActivationCount} activations are alive.");
        }

        var perActivation = (after - before) / (double)settings.Activations;
        return Result.Compare("activation.bytes", perActivation, "bytes", "budget", BudgetBytes);
    }

    private static long SettledHeap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
