using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;

namespace Orchestration.AppHost.Tests;

/// <summary>Starts the real AppHost process, as README's run command does, and checks what a person would.</summary>
public sealed class AppHostTests : IAsyncLifetime
{
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("orch-apphost-").FullName;
    private readonly int _port = FreePort();
    private readonly List<string> _output = [];
    private Process _appHost = null!;

    public Task InitializeAsync()
    {
        var path = typeof(AppHostTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "apphost").Value!;
        var start = new ProcessStartInfo("dotnet", [Path.GetFullPath(path)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["ORCHESTRATION_API_PORT"] = _port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["ORCHESTRATION_DATA_DIR"] = _dataDirectory,
            },
        };
        _appHost = Process.Start(start)!;
        _appHost.OutputDataReceived += (_, line) => Record(line.Data);
        _appHost.ErrorDataReceived += (_, line) => Record(line.Data);
        _appHost.BeginOutputReadLine();
        _appHost.BeginErrorReadLine();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (!_appHost.HasExited)
        {
            _appHost.Kill(entireProcessTree: true);
            await _appHost.WaitForExitAsync();
        }

        Directory.Delete(_dataDirectory, recursive: true);
    }

    [Fact]
    public async Task Run_Embedded_HealthyWithin15SecondsWithOneSiloAndStopsItsChildrenOnSigterm()
    {
        using var client = new HttpClient { BaseAddress = new Uri($"http://localhost:{_port}"), Timeout = TimeSpan.FromSeconds(2) };
        var started = Stopwatch.StartNew();
        while (!await IsHealthyAsync(client))
        {
            Assert.False(_appHost.HasExited, $"The AppHost exited early:\n{Output()}");
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(15), $"Not healthy within 15 s:\n{Output()}");
            await Task.Delay(100);
        }

        // No key was configured: the first start generated the platform key and wrote it next to the database.
        var key = (await File.ReadAllTextAsync(Path.Combine(_dataDirectory, "bootstrap-key"))).Trim();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        var cluster = await client.GetFromJsonAsync<JsonElement>("/api/v1/cluster");
        Assert.Single(cluster.GetProperty("silos").EnumerateArray());
        Assert.True(File.Exists(Path.Combine(_dataDirectory, "orchestration.db")));
        Assert.Contains(Output().Split('\n'), line => line.Contains($"healthy at http://localhost:{_port}"));

        Process.Start("kill", ["-TERM", _appHost.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        using var exitTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _appHost.WaitForExitAsync(exitTimeout.Token);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => client.GetAsync("/alive"));
    }

    private static async Task<bool> IsHealthyAsync(HttpClient client)
    {
        try
        {
            return (await client.GetAsync("/health")).StatusCode == HttpStatusCode.OK;
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private void Record(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.Add(line);
            }
        }
    }

    private string Output()
    {
        lock (_output)
        {
            return string.Join('\n', _output);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
