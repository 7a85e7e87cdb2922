using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Orchestration.Testing;

/// <summary>
/// A throwaway PostgreSQL server on a free loopback port, in a temporary directory removed on dispose.
/// When <c>ConnectionStrings__postgres</c> is set, that server is used instead and each instance gets a database of
/// its own. Starting fails loudly (never skips) when no PostgreSQL can be found.
/// </summary>
public sealed class EphemeralPostgres : IAsyncDisposable
{
    private readonly string? _dataDirectory;
    private readonly string? _binDirectory;
    private readonly string? _externalAdminConnectionString;

    private EphemeralPostgres(string connectionString, string? dataDirectory, string? binDirectory, string? externalAdminConnectionString)
    {
        ConnectionString = connectionString;
        _dataDirectory = dataDirectory;
        _binDirectory = binDirectory;
        _externalAdminConnectionString = externalAdminConnectionString;
    }

    /// <summary>Connects to this instance's database.</summary>
    public string ConnectionString { get; }

    /// <summary>Starts a server (or takes the configured one).</summary>
    /// <param name="durable">
    /// False (tests): fsync off, for speed; a killed client still loses nothing, since the server keeps running.
    /// True (benchmarks): the server's durable defaults, so commit costs are real.
    /// </param>
    /// <param name="commitTimestamps">
    /// Records each transaction's commit time (<c>track_commit_timestamp</c>), so a benchmark can measure from the commit
    /// itself (<c>pg_xact_commit_timestamp(xmin)</c>). A configured server must have it on already.
    /// </param>
    public static async Task<EphemeralPostgres> StartAsync(bool durable = false, bool commitTimestamps = false)
    {
        var external = Environment.GetEnvironmentVariable("ConnectionStrings__postgres");
        if (!string.IsNullOrWhiteSpace(external))
        {
            var database = $"orch_{Guid.NewGuid():N}";
            await using (var admin = new NpgsqlConnection(external))
            {
                await admin.OpenAsync();
                await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin);
                await create.ExecuteNonQueryAsync();
            }

            return new EphemeralPostgres(new NpgsqlConnectionStringBuilder(external) { Database = database }.ConnectionString, null, null, external);
        }

        var bin = FindBinDirectory();
        var dataDirectory = Directory.CreateTempSubdirectory("orch-pg-").FullName;
        var port = FreePort();
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            // initdb refuses to run as root; Debian's package creates the postgres user.
            await RunAsync("chown", ["-R", "postgres:postgres", dataDirectory], asUser: null);
        }

        var user = asRoot ? "postgres" : null;
        await RunAsync(Path.Combine(bin, "initdb"), ["-D", dataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"], user);
        var settings = $"-p {port} -c listen_addresses=127.0.0.1 -k {dataDirectory} -c max_connections=200"
            + (durable ? string.Empty : " -c fsync=off -c full_page_writes=off")
            + (commitTimestamps ? " -c track_commit_timestamp=on" : string.Empty);
        await RunAsync(Path.Combine(bin, "pg_ctl"), ["start", "-w", "-t", "60", "-D", dataDirectory, "-l", Path.Combine(dataDirectory, "server.log"), "-o", settings], user);

        var connectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = port,
            Username = "postgres",
            Database = "postgres",
            MaxPoolSize = 100,
        }.ConnectionString;
        return new EphemeralPostgres(connectionString, dataDirectory, bin, null);
    }

    /// <summary>Creates a fresh database on the same server and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var database = $"orch_{Guid.NewGuid():N}";
        await using var admin = new NpgsqlConnection(ConnectionString);
        await admin.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin);
        await create.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(ConnectionString) { Database = database }.ConnectionString;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_externalAdminConnectionString is not null)
        {
            return; // the external server belongs to whoever started it; its test databases are cheap to leave
        }

        await RunAsync(Path.Combine(_binDirectory!, "pg_ctl"), ["stop", "-m", "immediate", "-D", _dataDirectory!], Environment.UserName == "root" ? "postgres" : null);
        Directory.Delete(_dataDirectory!, recursive: true);
    }

    private static string FindBinDirectory()
    {
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql").OrderDescending().Select(version => Path.Combine(version, "bin"))
                : []);
        foreach (var directory in candidates)
        {
            if (File.Exists(Path.Combine(directory, "initdb")) && File.Exists(Path.Combine(directory, "pg_ctl")))
            {
                return directory;
            }
        }

        throw new InvalidOperationException(
            "PostgreSQL is needed by these tests but initdb/pg_ctl were not found. Install it (Debian: `apt-get install postgresql`; " +
            "./test.sh does this when run as root) or point ConnectionStrings__postgres at a server you run.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task RunAsync(string fileName, string[] arguments, string? asUser)
    {
        var start = asUser is null ? new ProcessStartInfo(fileName) : new ProcessStartInfo("runuser");
        if (asUser is not null)
        {
            foreach (var argument in new[] { "-u", asUser, "--", fileName })
            {
                start.ArgumentList.Add(argument);
            }
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(fileName)} failed ({process.ExitCode}): {await error}{await output}");
        }
    }
}
