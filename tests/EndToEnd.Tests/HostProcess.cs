using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using Orchestration.Testing;

namespace Orchestration.EndToEnd.Tests;

/// <summary>
/// A shipped host (the Api or a silo) as a child process on a free loopback port, with the signals an operator or a
/// failure sends it: SIGKILL (a crash), SIGTERM (a graceful stop), SIGSTOP/SIGCONT (a paused process).
/// </summary>
internal sealed partial class HostProcess : IAsyncDisposable
{
    public const string BootstrapKey = "e2e-bootstrap-key-0123456789abcdef";

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private HostProcess(string name, Process process, Uri address)
    {
        Name = name;
        _process = process;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
        Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BootstrapKey);
        process.OutputDataReceived += (_, line) => Append(line.Data);
        process.ErrorDataReceived += (_, line) => Append(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public Uri Address { get; }

    /// <summary>A client of this process's HTTP endpoint that authenticates with <see cref="BootstrapKey"/>.</summary>
    public HttpClient Client { get; }

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the Api (embedded silo unless the settings say otherwise) and waits until it is healthy.</summary>
    public static Task<HostProcess> StartApiAsync(IReadOnlyDictionary<string, string> settings, string? bootstrapKey = BootstrapKey) =>
        StartAsync("api", "api", settings, bootstrapKey);

    /// <summary>Starts a silo of a cluster on <paramref name="connectionString"/> and waits until it is healthy.</summary>
    public static Task<HostProcess> StartSiloAsync(string siloId, string connectionString) =>
        StartAsync(siloId, "silo", new Dictionary<string, string>
        {
            ["Orchestration:Mode"] = "Cluster",
            ["ConnectionStrings:postgres"] = connectionString,
            ["Silo:SiloId"] = siloId,
        }, bootstrapKey: null);

    private static async Task<HostProcess> StartAsync(string name, string project, IReadOnlyDictionary<string, string> settings, string? bootstrapKey)
    {
        var dll = typeof(HostProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == project).Value!;
        var address = new Uri($"http://127.0.0.1:{FreePort()}");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(dll))!,
        };
        start.ArgumentList.Add(Path.GetFullPath(dll));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(address.ToString());
        if (bootstrapKey is not null)
        {
            start.Environment["ORCHESTRATION_BOOTSTRAP_KEY"] = bootstrapKey;
        }

        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var host = new HostProcess(name, Process.Start(start)!, address);
        await host.WaitUntilHealthyAsync();
        return host;
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a crash.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, then waits for the process to finish its graceful shutdown.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        Signal(Sigterm);
        await _process.WaitForExitAsync().WaitAsync(timeout);
    }

    /// <summary>SIGSTOP: the process is frozen (no thread runs) until <see cref="Resume"/>.</summary>
    public void Pause() => Signal(Sigstop);

    /// <summary>SIGCONT.</summary>
    public void Resume() => Signal(Sigcont);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Resume();
            await KillAsync();
        }

        Client.Dispose();
        _process.Dispose();
    }

    private const int Sigterm = 15;
    private const int Sigstop = 19;
    private const int Sigcont = 18;

    private void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    private async Task WaitUntilHealthyAsync()
    {
        using var probe = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(2) };
        await Eventually.TrueAsync(
            async () =>
            {
                if (_process.HasExited)
                {
                    Assert.Fail($"{Name} exited with {_process.ExitCode}:\n{Output}");
                }

                try
                {
                    return (await probe.GetAsync("/health")).StatusCode == HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
                catch (TaskCanceledException)
                {
                    return false;
                }
            },
            $"{Name} answers /health");
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
