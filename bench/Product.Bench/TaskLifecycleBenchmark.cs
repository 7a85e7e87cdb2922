using Npgsql;
using Orchestration.Bench;
using Orchestration.EndToEnd.Tests;
using Orchestration.Runtime.Testing;
using Orchestration.Silo.Extensions;
using Orchestration.Testing;

namespace Orchestration.Product.Bench;

/// <summary>
/// task.lifecycle.*.postgres: tasks per second created, claimed and completed by 32 agents (see <see cref="TaskLifecycle"/>),
/// against <see cref="SkipLockedBoard"/> measured in the same run on the same server.
/// </summary>
internal static class TaskLifecycleBenchmark
{
    public const string Baseline = "sql.skip_locked.3commits.32conn";

    public const string ClusterName = "task.lifecycle.cluster.postgres";

    /// <summary>
    /// Measures the baseline once, then the selected product paths, each on a fresh database of <paramref name="postgres"/>.
    /// The HTTP path is also quoted against the grain-level figure of the same run (a second line), so the grains are
    /// measured whenever the HTTP path is.
    /// </summary>
    public static async Task<IReadOnlyList<Result>> RunAsync(Settings settings, EphemeralPostgres postgres)
    {
        var http = settings.Selected("task.lifecycle.http.postgres");
        var baseline = (await MeasureBaselineAsync(settings, await postgres.CreateDatabaseAsync())).PerSecond;
        var grains = await MeasureGrainsAsync(settings, await postgres.CreateDatabaseAsync());
        var results = new List<Result> { Result.Compare("task.lifecycle.grains.postgres", grains, "tasks/s", Baseline, baseline) };
        if (http)
        {
            var overHttp = await MeasureHttpAsync(settings, await postgres.CreateDatabaseAsync());
            results.Add(Result.Compare("task.lifecycle.http.postgres", overHttp, "tasks/s", Baseline, baseline));
            results.Add(Result.Compare("task.lifecycle.http.postgres", overHttp.PerSecond, "tasks/s", "task.lifecycle.grains.postgres", grains.PerSecond));
        }

        var fsync = FsyncRate.Measure(Path.GetTempPath());
        return [.. results.Select(result => result with { FsyncPerSecond = fsync })];
    }

    /// <summary>
    /// task.lifecycle.cluster.postgres: the same HTTP workload through an Api in cluster mode (a client) in front of three
    /// silo processes, against the single-process Api (<c>task.lifecycle.http.postgres</c>) measured in the same run, each
    /// on a fresh database of <paramref name="postgres"/>.
    /// </summary>
    public static async Task<IReadOnlyList<Result>> RunClusterAsync(Settings settings, EphemeralPostgres postgres)
    {
        var single = await MeasureHttpAsync(settings, await postgres.CreateDatabaseAsync());
        Console.Error.WriteLine($"task.lifecycle.http.postgres: {single.PerSecond:F0} tasks/s");
        var cluster = await MeasureClusterAsync(settings, WithProviderPoolDefault(await postgres.CreateDatabaseAsync()));
        var fsync = FsyncRate.Measure(Path.GetTempPath());
        return [Result.Compare(ClusterName, cluster, "tasks/s", "task.lifecycle.http.postgres", single.PerSecond) with { FsyncPerSecond = fsync }];
    }

    private static async Task<Throughput> MeasureClusterAsync(Settings settings, string database)
    {
        await using var cluster = await ClusterProcesses.StartAsync(database);
        await using var board = await HttpBoard.CreateAsync(cluster.Api.Address, cluster.Api.Client);
        return await TaskLifecycle.MeasureAsync(board, settings);
    }

    private static async Task<Throughput> MeasureGrainsAsync(Settings settings, string database)
    {
        await using var cluster = await TestCluster.StartAsync(builder =>
        {
            builder.AddGrains(typeof(SiloHostingExtensions).Assembly);
            builder.UsePostgresStorage(WithProviderPoolDefault(database));
        });
        await using var board = new GrainBoard(cluster.GrainFactory);
        await board.RegisterAgentsAsync();
        using var trace = settings.Trace ? new CommitTrace() : null;
        using var counters = new RuntimeCounters();
        return await TaskLifecycle.MeasureAsync(board, settings, counters, database);
    }

    /// <summary>
    /// Through the HTTP API: the Api as shipped (embedded silo, <c>Storage:Provider=Postgres</c>) in its own process on
    /// a loopback port, real Kestrel, keep-alive clients.
    /// </summary>
    private static async Task<Throughput> MeasureHttpAsync(Settings settings, string database)
    {
        await using var api = await StartApiAsync(database);
        await using var board = await HttpBoard.CreateAsync(api.Address, api.Client);
        return await TaskLifecycle.MeasureAsync(board, settings);
    }

    /// <summary>The Api as shipped (embedded silo, <c>Storage:Provider=Postgres</c> on <paramref name="database"/>) on a loopback port.</summary>
    public static Task<HostProcess> StartApiAsync(string database) =>
        HostProcess.StartApiAsync(new Dictionary<string, string>
        {
            ["Storage:Provider"] = "Postgres",
            ["ConnectionStrings:postgres"] = WithProviderPoolDefault(database),
            ["Logging:LogLevel:Default"] = "Warning",
        });

    private static async Task<Throughput> MeasureBaselineAsync(Settings settings, string database)
    {
        await using var board = await SkipLockedBoard.CreateAsync(database);
        var baseline = await TaskLifecycle.MeasureAsync(board, settings, database: database);
        Console.Error.WriteLine($"{Baseline}: {baseline.PerSecond:F0} tasks/s, CPU per task {baseline.CpuMicroseconds:F0} µs here and {baseline.ServerCpuMicroseconds:F0} µs in the database");
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
