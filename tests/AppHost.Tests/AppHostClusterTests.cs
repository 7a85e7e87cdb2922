using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Npgsql;

namespace Orchestration.AppHost.Tests;

/// <summary>
/// <c>--cluster</c>: PostgreSQL from Debian's binaries, silo replicas, and the Api after them. Until the Api's cluster
/// mode lands (issue 7) the healthy-cluster checks leave the Api out (<c>--without api</c>); the Api's own start is in
/// <see cref="AppHostClusterApiTests"/>.
/// </summary>
public sealed class AppHostClusterTests : IDisposable
{
    private static readonly TimeSpan s_startup = TimeSpan.FromSeconds(60);

    private readonly string _dataDirectory = AppHostProcess.CreateDataDirectory();

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    [Fact]
    public async Task Run_ClusterOfThreeSilos_PostgresAndSilosHealthyAndSigtermStopsEverythingInReverseOrder()
    {
        await using var appHost = AppHostProcess.Start(["--cluster", "--silos", "3", "--without", "api"], Environment());

        await appHost.WaitForLineAsync(new Regex(@"^\[apphost\] Ready:$"), s_startup);

        // Postgres answers with the password the AppHost generated and kept next to its data.
        var postgresUrl = new Uri(appHost.HealthyUrls()["postgres"]);
        var password = (await File.ReadAllTextAsync(Path.Combine(_dataDirectory, "postgres-password"))).Trim();
        var connectionString = $"Host=127.0.0.1;Port={postgresUrl.Port};Username=postgres;Password={password};Pooling=false";
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var select = new NpgsqlCommand("SELECT 1", connection);
            Assert.Equal(1, await select.ExecuteScalarAsync());
        }

        // Each silo replica answers on its own port.
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        string[] silos = ["silo-0", "silo-1", "silo-2"];
        var urls = appHost.HealthyUrls();
        foreach (var silo in silos)
        {
            Assert.Matches(@"^http://127\.0\.0\.1:\d+$", urls[silo]);
            using var health = await client.GetAsync($"{urls[silo]}/health");
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        Assert.Equal(3, silos.Select(silo => urls[silo]).Distinct().Count());

        // The console: each resource's states, and its own lines under its prefix.
        var lines = appHost.Lines;
        foreach (var name in silos.Append("postgres"))
        {
            Assert.Contains(lines, line => line.StartsWith($"[apphost] {name} is starting (pid ", StringComparison.Ordinal));
            Assert.Contains(lines, line => line.StartsWith($"[apphost] {name} is healthy at ", StringComparison.Ordinal));
            Assert.Contains(lines, line => line.StartsWith($"[{name}] ", StringComparison.Ordinal));
        }

        Assert.Contains("[apphost] api is left out (--without api)", lines);

        var processes = appHost.StartedProcesses();
        Assert.Equal(["postgres", "silo-0", "silo-1", "silo-2"], processes.Keys.Order());
        Assert.All(processes.Values, pid => Assert.True(AppHostProcess.IsAlive(pid)));

        appHost.Terminate();
        Assert.Equal(0, await appHost.WaitForExitAsync(TimeSpan.FromSeconds(40)));

        Assert.All(processes, process => Assert.False(AppHostProcess.IsAlive(process.Value), $"{process.Key} (pid {process.Value}) is still running"));
        Assert.False(File.Exists(Path.Combine(_dataDirectory, "postgres", "postmaster.pid")), "PostgreSQL did not shut down cleanly");
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
        });

        // Reverse order: the silos stop before the server they write to.
        var stopped = appHost.Lines.Select((line, index) => (line, index)).Where(entry => entry.line.EndsWith(" stopped (exit code 0)", StringComparison.Ordinal)).ToList();
        Assert.Equal(4, stopped.Count);
        Assert.StartsWith("[apphost] postgres stopped", stopped[^1].line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ClusterTwice_InitialisesPostgresOnceAndKeepsItsData()
    {
        await using (var first = AppHostProcess.Start(["--cluster", "--silos", "1", "--without", "api"], Environment()))
        {
            await first.WaitForLineAsync(new Regex(@"^\[apphost\] Ready:$"), s_startup);
            await using var connection = new NpgsqlConnection(ConnectionString(first));
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand("CREATE TABLE kept (id int)", connection);
            await create.ExecuteNonQueryAsync();
            first.Terminate();
            await first.WaitForExitAsync(TimeSpan.FromSeconds(40));
            Assert.Contains(first.Lines, line => line.Contains("postgres: initialising a new server", StringComparison.Ordinal));
        }

        await using var second = AppHostProcess.Start(["--cluster", "--silos", "1", "--without", "api"], Environment());
        await second.WaitForLineAsync(new Regex(@"^\[apphost\] Ready:$"), s_startup);
        Assert.DoesNotContain(second.Lines, line => line.Contains("initialising", StringComparison.Ordinal));
        await using (var connection = new NpgsqlConnection(ConnectionString(second)))
        {
            await connection.OpenAsync();
            await using var select = new NpgsqlCommand("SELECT count(*) FROM kept", connection);
            Assert.Equal(0L, await select.ExecuteScalarAsync());
        }

        second.Terminate();
        Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromSeconds(40)));
    }

    [Fact]
    public async Task Run_ClusterWhoseApiExitsDuringStartup_ReportsItStopsEverythingAndExitsNonZero()
    {
        // The Api's port is taken, so it cannot start whatever its mode.
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var environment = Environment();
        environment["ORCHESTRATION_API_PORT"] = ((IPEndPoint)squatter.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
        await using var appHost = AppHostProcess.Start(["--cluster", "--silos", "1"], environment);

        var exitCode = await appHost.WaitForExitAsync(s_startup);

        Assert.NotEqual(0, exitCode);
        var lines = appHost.Lines;
        var report = lines.ToList().FindIndex(line => Regex.IsMatch(line, @"^\[apphost\] api exited with code \d+ during startup\. Its last lines:$"));
        Assert.True(report >= 0, appHost.Output);
        Assert.StartsWith("[apphost]   | ", lines[report + 1], StringComparison.Ordinal);
        Assert.Contains("[apphost] Startup failed.", lines);
        // The Api started only once the silo was healthy, and everything it waited for was stopped.
        Assert.True(lines.ToList().IndexOf(lines.First(line => line.StartsWith("[apphost] silo-0 is healthy", StringComparison.Ordinal)))
            < lines.ToList().IndexOf(lines.First(line => line.StartsWith("[apphost] api is starting", StringComparison.Ordinal))));
        Assert.All(appHost.StartedProcesses(), process => Assert.False(AppHostProcess.IsAlive(process.Value), $"{process.Key} (pid {process.Value}) is still running"));
    }

    private Dictionary<string, string> Environment() => new() { ["ORCHESTRATION_DATA_DIR"] = _dataDirectory };

    private string ConnectionString(AppHostProcess appHost)
    {
        var port = new Uri(appHost.HealthyUrls()["postgres"]).Port;
        var password = File.ReadAllText(Path.Combine(_dataDirectory, "postgres-password")).Trim();
        return $"Host=127.0.0.1;Port={port};Username=postgres;Password={password};Pooling=false";
    }
}
