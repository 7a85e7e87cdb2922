using Npgsql;
using Orchestration.Bench;
using Orchestration.Runtime.Testing;
using Orchestration.Silo.Extensions;

namespace Orchestration.Product.Bench;

/// <summary>
/// task.lifecycle.*.postgres: tasks per second created, claimed and completed by 32 agents (see <see cref="TaskLifecycle"/>),
/// against <see cref="SkipLockedBoard"/> measured in the same run on the same server.
/// </summary>
internal static class TaskLifecycleBenchmark
{
    public const string Baseline = "sql.skip_locked.3commits.32conn";

    public static async Task<Result> RunGrainsAsync(Settings settings, string baselineDatabase, string productDatabase)
    {
        var baseline = await MeasureBaselineAsync(settings, baselineDatabase);

        await using var cluster = await TestCluster.StartAsync(builder =>
        {
            builder.AddGrains(typeof(SiloHostingExtensions).Assembly);
            builder.UsePostgresStorage(WithProviderPoolDefault(productDatabase));
        });
        await using var board = new GrainBoard(cluster.GrainFactory);
        await board.RegisterAgentsAsync();
        using var trace = settings.Trace ? new CommitTrace() : null;
        using var counters = new RuntimeCounters();
        var tasks = await TaskLifecycle.MeasureAsync(board, settings, counters);
        return Result.Compare("task.lifecycle.grains.postgres", tasks, "tasks/s", Baseline, baseline.PerSecond)
            with { FsyncPerSecond = FsyncRate.Measure(Path.GetTempPath()) };
    }

    public static async Task<Throughput> MeasureBaselineAsync(Settings settings, string database)
    {
        await using var board = await SkipLockedBoard.CreateAsync(database);
        var baseline = await TaskLifecycle.MeasureAsync(board, settings);
        Console.Error.WriteLine($"{Baseline}: {baseline.PerSecond:F0} tasks/s");
        return baseline;
    }

    /// <summary>The provider's own read-pool default is what is measured, not the throwaway server's explicit pool size.</summary>
    private static string WithProviderPoolDefault(string connectionString)
    {
        var storage = new NpgsqlConnectionStringBuilder(connectionString);
        storage.Remove("Maximum Pool Size");
        return storage.ConnectionString;
    }
}
