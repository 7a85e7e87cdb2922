using Orchestration.Bench;
using Orchestration.Runtime.Bench;
using Orchestration.Testing;

// Prints one JSON object per line: {"benchmark","value","unit","baseline","baselineValue","ratio"}.
// --quick: short runs (under a minute in all); default: longer, steadier runs. --trace: where the first second goes. Postgres: ConnectionStrings__postgres,
// or a throwaway server started here with durable settings (fsync on).
if (args.FirstOrDefault() == RemoteGrainCallBenchmark.ServeSiloArgument)
{
    // grain.call.remote's silo: this program, re-launched as a child process.
    await RemoteGrainCallBenchmark.ServeSiloAsync(args[1..]);
    return;
}

var settings = Settings.FromArgs(args);

if (settings.Selected("grain.call"))
{
    Console.WriteLine((await GrainCallBenchmark.RunAsync(settings)).ToJson());
}

if (settings.Selected(RemoteGrainCallBenchmark.Name))
{
    foreach (var result in await RemoteGrainCallBenchmark.RunAsync(settings))
    {
        Console.WriteLine(result.ToJson());
    }
}

if (settings.Selected("transport.roundtrip"))
{
    foreach (var result in await TransportRoundTripBenchmark.RunAsync(settings))
    {
        Console.WriteLine(result.ToJson());
    }
}

if (settings.Selected("activation.bytes"))
{
    Console.WriteLine((await ActivationMemoryBenchmark.RunAsync(settings)).ToJson());
}

if (settings.Selected("grain.write.sqlite"))
{
    var directory = Directory.CreateTempSubdirectory("orch-bench-").FullName;
    try
    {
        Console.WriteLine((await DurableWriteBenchmark.RunSqliteAsync(settings, directory)).ToJson());
    }
    finally
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }
}

if (settings.Selected("grain.write.postgres"))
{
    await using var postgres = await EphemeralPostgres.StartAsync(durable: true);
    var connectionString = await postgres.CreateDatabaseAsync();
    Console.WriteLine((await DurableWriteBenchmark.RunPostgresAsync(settings, connectionString)).ToJson());
}
