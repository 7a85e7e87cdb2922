using Microsoft.Data.Sqlite;
using Npgsql;
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
        var writes = await GrainWritesAsync(settings, builder => builder.UsePostgresStorage(connectionString));
        return Result.Compare("grain.write.postgres", writes, "writes/s", "naive.autocommit.upsert.64conn", baseline);
    }

    public static async Task<Result> RunSqliteAsync(Settings settings, string directory)
    {
        var baseline = await NaiveSqliteAsync(settings, Path.Combine(directory, "naive.db"));
        var writes = await GrainWritesAsync(settings, builder => builder.UseSqliteStorage(Path.Combine(directory, "grains.db")));
        return Result.Compare("grain.write.sqlite", writes, "writes/s", "naive.autocommit.upsert", baseline);
    }

    private static async Task<double> GrainWritesAsync(Settings settings, Action<SiloBuilder> storage)
    {
        await using var cluster = await TestCluster.StartAsync(builder =>
        {
            builder.AddGrains(typeof(DurableCounterGrain).Assembly);
            storage(builder);
        });
        var grains = Enumerable.Range(0, Grains).Select(i => cluster.GrainFactory.GetGrain<IDurableCounterGrain>($"counter-{i}")).ToArray();
        return await Measure.ThroughputAsync(Grains, settings.Warmup, settings.Duration, grain => grains[grain].IncrementAsync());
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
            return await Measure.ThroughputAsync(NaiveWriters, settings.Warmup, settings.Duration, async writer =>
            {
                var value = ++counters[writer];
                await using var upsert = new NpgsqlCommand(
                    "INSERT INTO bench_naive (key, data, version) VALUES ($1, $2::jsonb, 1) ON CONFLICT (key) DO UPDATE SET data = excluded.data, version = bench_naive.version + 1",
                    connections[writer]);
                upsert.Parameters.Add(new NpgsqlParameter { Value = $"naive-{writer}-{value % 16}" });
                upsert.Parameters.Add(new NpgsqlParameter { Value = $$"""{"value":{{value}}}""" });
                await upsert.ExecuteNonQueryAsync();
            });
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
        return await Measure.ThroughputAsync(NaiveWriters, settings.Warmup, settings.Duration, async writer =>
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
        });
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
