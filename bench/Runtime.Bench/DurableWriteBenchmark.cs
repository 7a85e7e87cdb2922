using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Npgsql;
using Orchestration.Bench;
using Orchestration.Runtime.Testing;

namespace Orchestration.Runtime.Bench;

/// <summary>
/// grain.write.*: durable writes per second (state plus one event each) from 1,024 grains writing concurrently,
/// against naive autocommit single-row upserts measured in the same run on the same database.
/// </summary>
/// <remarks>
/// The two sides alternate, baseline, runtime, runtime, baseline, each measuring half the duration (each after its own
/// warm-up), and each side's rate is the mean of its halves: on these machines the disk's flush rate and the CPU drift
/// by a fifth from one minute to the next, and a drift that is linear over the run then falls on both sides alike.
/// </remarks>
internal static class DurableWriteBenchmark
{
    private const int Grains = 1024;
    private const int NaiveWriters = 64;

    public static async Task<Result> RunPostgresAsync(Settings settings, string connectionString)
    {
        var naive = await NaivePostgres.CreateAsync(connectionString);
        // The provider's own read-pool default is what is measured, not the throwaway server's explicit pool size.
        var storage = new NpgsqlConnectionStringBuilder(connectionString);
        storage.Remove("Maximum Pool Size");
        await using var counters = await Counters.StartAsync(builder => builder.UsePostgresStorage(storage.ConnectionString));
        var (writes, baseline) = await AlternateAsync(
            settings,
            duration => naive.MeasureAsync(settings, duration),
            duration => counters.MeasureAsync(settings, duration, () => PostgresBackendCpu.ReadAsync(connectionString)));
        await ReportBackendsAsync(connectionString);
        return Result.Compare("grain.write.postgres", writes, "writes/s", "naive.autocommit.upsert.64conn", baseline)
            with { FsyncPerSecond = FsyncRate.Measure(Path.GetTempPath()) };
    }

    public static async Task<Result> RunSqliteAsync(Settings settings, string directory)
    {
        var naive = await NaiveSqlite.CreateAsync(Path.Combine(directory, "naive.db"));
        await using var counters = await Counters.StartAsync(builder => builder.UseSqliteStorage(Path.Combine(directory, "grains.db")));
        var (writes, baseline) = await AlternateAsync(
            settings, duration => naive.MeasureAsync(settings, duration), duration => counters.MeasureAsync(settings, duration));
        return Result.Compare("grain.write.sqlite", writes, "writes/s", "naive.autocommit.upsert", baseline)
            with { FsyncPerSecond = FsyncRate.Measure(directory) };
    }

    /// <summary>Baseline, runtime, runtime, baseline, half the duration each: the runtime's halves combined, the baseline's mean.</summary>
    private static async Task<(Throughput Writes, double Baseline)> AlternateAsync(
        Settings settings, Func<TimeSpan, Task<double>> baseline, Func<TimeSpan, Task<Throughput>> writes)
    {
        var half = settings.Duration / 2;
        var baselineBefore = await baseline(half);
        var writesFirst = await writes(half);
        var writesSecond = await writes(half);
        var baselineAfter = await baseline(half);
        Console.Error.WriteLine(
            $"halves (ops/s): baseline {baselineBefore:F0}, runtime {writesFirst.PerSecond:F0}, runtime {writesSecond.PerSecond:F0}, baseline {baselineAfter:F0}");
        return (Throughput.Combine(writesFirst, writesSecond), (baselineBefore + baselineAfter) / 2);
    }

    /// <summary>The 1,024 durable counters on a test cluster that lives across both of their measurements.</summary>
    private sealed class Counters : IAsyncDisposable
    {
        private readonly TestCluster _cluster;
        private readonly IDurableCounterGrain[] _grains;

        private Counters(TestCluster cluster)
        {
            _cluster = cluster;
            _grains = [.. Enumerable.Range(0, Grains).Select(i => cluster.GrainFactory.GetGrain<IDurableCounterGrain>($"counter-{i}"))];
        }

        public static async Task<Counters> StartAsync(Action<SiloBuilder> storage) =>
            new(await TestCluster.StartAsync(builder =>
            {
                builder.AddGrains(typeof(DurableCounterGrain).Assembly);
                storage(builder);
            }));

        /// <summary>The first call's first second includes the 1,024 activations.</summary>
        public async Task<Throughput> MeasureAsync(Settings settings, TimeSpan duration, Func<Task<TimeSpan>>? serverCpu = null)
        {
            using var trace = settings.Trace ? new CommitTrace() : null;
            return await Measure.ThroughputAsync(Grains, settings, grain => _grains[grain].IncrementAsync(), serverCpu, duration);
        }

        public ValueTask DisposeAsync() => _cluster.DisposeAsync();
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

    /// <summary>
    /// 64 connections upserting one row each per autocommit statement. They are opened for each measurement and closed
    /// after it, so the runtime's measurements do not share the server with 64 idle backends.
    /// </summary>
    private sealed class NaivePostgres
    {
        private const string ApplicationName = "naive-baseline";

        private readonly string _adminConnectionString;
        private readonly string _connectionString;
        private readonly long[] _counters = new long[NaiveWriters];

        private NaivePostgres(string adminConnectionString, string connectionString) =>
            (_adminConnectionString, _connectionString) = (adminConnectionString, connectionString);

        public static async Task<NaivePostgres> CreateAsync(string connectionString)
        {
            await using (var setup = new NpgsqlConnection(connectionString))
            {
                await setup.OpenAsync();
                await using var create = new NpgsqlCommand("CREATE TABLE IF NOT EXISTS bench_naive (key text PRIMARY KEY, data jsonb NOT NULL, version bigint NOT NULL)", setup);
                await create.ExecuteNonQueryAsync();
            }

            // Unpooled, so closing really ends the backends; named, so they can be told apart from the runtime's.
            return new NaivePostgres(
                connectionString, new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = ApplicationName, Pooling = false }.ConnectionString);
        }

        public async Task<double> MeasureAsync(Settings settings, TimeSpan duration)
        {
            var connections = new NpgsqlConnection[NaiveWriters];
            try
            {
                for (var i = 0; i < NaiveWriters; i++)
                {
                    connections[i] = new NpgsqlConnection(_connectionString);
                    await connections[i].OpenAsync();
                }

                return (await Measure.ThroughputAsync(NaiveWriters, settings, async writer =>
                {
                    var value = ++_counters[writer];
                    await using var upsert = new NpgsqlCommand(
                        "INSERT INTO bench_naive (key, data, version) VALUES ($1, $2::jsonb, 1) ON CONFLICT (key) DO UPDATE SET data = excluded.data, version = bench_naive.version + 1",
                        connections[writer]);
                    upsert.Parameters.Add(new NpgsqlParameter { Value = $"naive-{writer}-{value % 16}" });
                    upsert.Parameters.Add(new NpgsqlParameter { Value = $$"""{"value":{{value}}}""" });
                    await upsert.ExecuteNonQueryAsync();
                }, duration: duration)).PerSecond;
            }
            finally
            {
                foreach (var connection in connections.OfType<NpgsqlConnection>())
                {
                    await connection.DisposeAsync();
                }

                await WaitForBackendsToExitAsync();
            }
        }

        /// <summary>
        /// 64 backends exiting at once take a good part of a second of CPU here (process teardown is dear in this VM):
        /// measured from right after the close, the runtime's first second came out at a twentieth of its steady rate.
        /// </summary>
        private async Task WaitForBackendsToExitAsync()
        {
            await using var admin = new NpgsqlConnection(_adminConnectionString);
            await admin.OpenAsync();
            await using var count = new NpgsqlCommand($"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{ApplicationName}'", admin);
            var deadline = Stopwatch.StartNew();
            while ((long)(await count.ExecuteScalarAsync())! > 0 && deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(20);
            }
        }
    }

    /// <summary>64 writers upserting one row each in a connection and transaction of its own, fully synchronous.</summary>
    private sealed class NaiveSqlite
    {
        private readonly string _connectionString;
        private readonly long[] _counters = new long[NaiveWriters];

        private NaiveSqlite(string connectionString) => _connectionString = connectionString;

        public static async Task<NaiveSqlite> CreateAsync(string path)
        {
            var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true }.ToString();
            await using var setup = new SqliteConnection(connectionString);
            await setup.OpenAsync();
            Execute(setup, "PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS bench_naive (key TEXT PRIMARY KEY, data TEXT NOT NULL, version INTEGER NOT NULL);");
            return new NaiveSqlite(connectionString);
        }

        public async Task<double> MeasureAsync(Settings settings, TimeSpan duration) =>
            (await Measure.ThroughputAsync(NaiveWriters, settings, async writer =>
            {
                var value = ++_counters[writer];
                await using var connection = new SqliteConnection(_connectionString);
                await connection.OpenAsync();
                Execute(connection, "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000;");
                using var upsert = connection.CreateCommand();
                upsert.CommandText = "INSERT INTO bench_naive (key, data, version) VALUES ($k, $d, 1) ON CONFLICT (key) DO UPDATE SET data = excluded.data, version = version + 1";
                upsert.Parameters.AddWithValue("$k", $"naive-{writer}-{value % 16}");
                upsert.Parameters.AddWithValue("$d", $$"""{"value":{{value}}}""");
                upsert.ExecuteNonQuery();
            }, duration: duration)).PerSecond;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
