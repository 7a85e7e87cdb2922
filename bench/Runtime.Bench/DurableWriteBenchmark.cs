using Microsoft.Data.Sqlite;
using Npgsql;
using Orchestration.Bench;
using Orchestration.Runtime.Testing;

namespace Orchestration.Runtime.Bench;

/// <summary>
/// grain.write.*: durable writes per second (state plus one event each) from 1,024 grains writing concurrently,
/// against naive autocommit single-row upserts measured in the same run on the same database.
/// </summary>
internal static class DurableWriteBenchmark
{
    private const int Grains = 1024;
    private const int NaiveWriters = 64;

    public static async Task<Result> RunPostgresAsync(Settings settings, string connectionString)
    {
        var baseline = await NaivePostgresAsync(settings, connectionString);
        // The provider's own read-pool default is what is measured, not the throwaway server's explicit pool size.
        var storage = new NpgsqlConnectionStringBuilder(connectionString);
        storage.Remove("Maximum Pool Size");
        var writes = await GrainWritesAsync(
            settings, builder => builder.UsePostgresStorage(storage.ConnectionString), () => ReportBackendsAsync(connectionString), () => PostgresBackendCpu.ReadAsync(connectionString));
        return Result.Compare("grain.write.postgres", writes, "writes/s", "naive.autocommit.upsert.64conn", baseline)
            with { FsyncPerSecond = FsyncRate.Measure(Path.GetTempPath()) };
    }

    public static async Task<Result> RunSqliteAsync(Settings settings, string directory)
    {
        var baseline = await NaiveSqliteAsync(settings, Path.Combine(directory, "naive.db"));
        var writes = await GrainWritesAsync(settings, builder => builder.UseSqliteStorage(Path.Combine(directory, "grains.db")));
        return Result.Compare("grain.write.sqlite", writes, "writes/s", "naive.autocommit.upsert", baseline)
            with { FsyncPerSecond = FsyncRate.Measure(directory) };
    }

    private static async Task<Throughput> GrainWritesAsync(
        Settings settings, Action<SiloBuilder> storage, Func<Task>? whileRunning = null, Func<Task<TimeSpan>>? serverCpu = null)
    {
        await using var cluster = await TestCluster.StartAsync(builder =>
        {
            builder.AddGrains(typeof(DurableCounterGrain).Assembly);
            storage(builder);
        });
        var grains = Enumerable.Range(0, Grains).Select(i => cluster.GrainFactory.GetGrain<IDurableCounterGrain>($"counter-{i}")).ToArray();
        using var trace = settings.Trace ? new CommitTrace() : null;
        var writes = await Measure.ThroughputAsync(Grains, settings, grain => grains[grain].IncrementAsync(), serverCpu);
        if (whileRunning is not null)
        {
            await whileRunning();
        }

        return writes;
    }

    /// <summary>How many backends the runtime held, by application name: the read pool, the commit set, the listener.</summary>
    private static async Task ReportBackendsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT coalesce(application_name, ''), count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1 ORDER BY 1",
            connection);
        await using var reader = await command.ExecuteReaderAsync();
        var counts = new List<string>();
        while (await reader.ReadAsync())
        {
            counts.Add($"{(reader.GetString(0) is { Length: > 0 } name ? name : "(reads)")}={reader.GetInt64(1)}");
        }

        Console.Error.WriteLine($"backends: {string.Join(", ", counts)}");
    }

    private static async Task<double> NaivePostgresAsync(Settings settings, string connectionString)
    {
        await using (var setup = new NpgsqlConnection(connectionString))
        {
            await setup.OpenAsync();
            await using var create = new NpgsqlCommand("CREATE TABLE IF NOT EXISTS bench_naive (key text PRIMARY KEY, data jsonb NOT NULL, version bigint NOT NULL)", setup);
            await create.ExecuteNonQueryAsync();
        }

        var connections = new NpgsqlConnection[NaiveWriters];
        for (var i = 0; i < NaiveWriters; i++)
        {
            connections[i] = new NpgsqlConnection(connectionString);
            await connections[i].OpenAsync();
        }

        var counters = new long[NaiveWriters];
        try
        {
            return (await Measure.ThroughputAsync(NaiveWriters, settings, async writer =>
            {
                var value = ++counters[writer];
                await using var upsert = new NpgsqlCommand(
                    "INSERT INTO bench_naive (key, data, version) VALUES ($1, $2::jsonb, 1) ON CONFLICT (key) DO UPDATE SET data = excluded.data, version = bench_naive.version + 1",
                    connections[writer]);
                upsert.Parameters.Add(new NpgsqlParameter { Value = $"naive-{writer}-{value % 16}" });
                upsert.Parameters.Add(new NpgsqlParameter { Value = $$"""{"value":{{value}}}""" });
                await upsert.ExecuteNonQueryAsync();
            })).PerSecond;
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }

            NpgsqlConnection.ClearAllPools(); // the grain phase should not compete with idle baseline connections
        }
    }

    private static async Task<double> NaiveSqliteAsync(Settings settings, string path)
    {
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true }.ToString();
        await using (var setup = new SqliteConnection(connectionString))
        {
            await setup.OpenAsync();
            Execute(setup, "PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS bench_naive (key TEXT PRIMARY KEY, data TEXT NOT NULL, version INTEGER NOT NULL);");
        }

        var counters = new long[NaiveWriters];
        return (await Measure.ThroughputAsync(NaiveWriters, settings, async writer =>
        {
            var value = ++counters[writer];
            await using var connection = new SqliteConnection(connectionString);
            await connection.OpenAsync();
            Execute(connection, "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000;");
            using var upsert = connection.CreateCommand();
            upsert.CommandText = "INSERT INTO bench_naive (key, data, version) VALUES ($k, $d, 1) ON CONFLICT (key) DO UPDATE SET data = excluded.data, version = version + 1";
            upsert.Parameters.AddWithValue("$k", $"naive-{writer}-{value % 16}");
            upsert.Parameters.AddWithValue("$d", $$"""{"value":{{value}}}""");
            upsert.ExecuteNonQuery();
        })).PerSecond;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
