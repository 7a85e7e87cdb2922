using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Orchestration.AppHost.Tests;

/// <summary>The whole cluster as README's <c>--cluster --silos 3</c> runs it, the Api included.</summary>
public sealed class AppHostClusterApiTests : IDisposable
{
    private readonly string _dataDirectory = AppHostProcess.CreateDataDirectory();

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    [Fact]
    public async Task Run_ClusterOfThreeSilos_ApiHealthyAndServesTheClusterWithTheBootstrapKey()
    {
        var port = FreePort();
        await using var appHost = AppHostProcess.Start(
            ["--cluster", "--silos", "3"],
            new Dictionary<string, string>
            {
                ["ORCHESTRATION_DATA_DIR"] = _dataDirectory,
                ["ORCHESTRATION_API_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            });

        await appHost.WaitForLineAsync(new Regex(@"^\[apphost\] Ready:$"), TimeSpan.FromSeconds(60));
        Assert.Equal($"http://localhost:{port}", appHost.HealthyUrls()["api"]);

        using var client = new HttpClient { BaseAddress = new Uri($"http://localhost:{port}"), Timeout = TimeSpan.FromSeconds(5) };
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);

        // The AppHost generated the platform key, kept it for the user (0600), and gave it to the Api.
        var keyFile = Path.Combine(_dataDirectory, "bootstrap-key");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        }

        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(keyFile)).Trim());
        // The cluster view comes from the membership table: three active silos, holding every partition between them.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        JsonElement[] active;
        while (true)
        {
            var response = await client.GetAsync("/api/v1/cluster");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var cluster = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            active = [.. cluster.RootElement.GetProperty("silos").EnumerateArray()
                .Where(silo => silo.GetProperty("status").GetString() == "active").Select(silo => silo.Clone())];
            if ((active.Length == 3 && active.Sum(silo => silo.GetProperty("ownedPartitions").GetInt32()) == 256) || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.Equal(["silo-0", "silo-1", "silo-2"], active.Select(silo => silo.GetProperty("siloId").GetString()).Order());
        Assert.Equal(256, active.Sum(silo => silo.GetProperty("ownedPartitions").GetInt32()));

        var processes = appHost.StartedProcesses();
        appHost.Terminate();
        Assert.Equal(0, await appHost.WaitForExitAsync(TimeSpan.FromSeconds(40)));
        Assert.All(processes, process => Assert.False(AppHostProcess.IsAlive(process.Value), $"{process.Key} (pid {process.Value}) is still running"));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
