using Orchestration.Bench;
using Orchestration.Product.Bench;
using Orchestration.Testing;

// Prints one JSON object per line: {"benchmark","value","unit","baseline","baselineValue","ratio"}, as bench/Runtime.Bench.
// --quick: short runs; default: longer, steadier runs. --trace: where the first second goes. --only PREFIX: a subset.
// Postgres: ConnectionStrings__postgres, or a throwaway server started here with durable settings (fsync on).
if (args.FirstOrDefault() == SseReaderProcess.ServeArgument)
{
    // events.sse.latency's clients: this program, re-launched as a child process.
    await SseReaderProcess.ServeAsync(args[1..]);
    return;
}

var settings = Settings.FromArgs(args);
var lifecycle = settings.Selected("task.lifecycle.grains.postgres") || settings.Selected("task.lifecycle.http.postgres");
var events = settings.Selected(EventsSseLatencyBenchmark.Name);
var failover = settings.Selected(FailoverBenchmark.Name);
var lifecycleCluster = settings.Selected(TaskLifecycleBenchmark.ClusterName);
if (!lifecycle && !events && !failover && !lifecycleCluster)
{
    return;
}

await using var postgres = await EphemeralPostgres.StartAsync(durable: true, commitTimestamps: events);
if (lifecycle)
{
    foreach (var result in await TaskLifecycleBenchmark.RunAsync(settings, postgres))
    {
        Console.WriteLine(result.ToJson());
    }
}

if (events)
{
    foreach (var result in await EventsSseLatencyBenchmark.RunAsync(settings, postgres))
    {
        Console.WriteLine(result.ToJson());
    }
}

if (failover)
{
    foreach (var result in await FailoverBenchmark.RunAsync(postgres))
    {
        Console.WriteLine(result.ToJson());
    }
}

if (lifecycleCluster)
{
    foreach (var result in await TaskLifecycleBenchmark.RunClusterAsync(settings, postgres))
    {
        Console.WriteLine(result.ToJson());
    }
}
