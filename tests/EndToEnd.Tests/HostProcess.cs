using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
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

    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private HostProcess(string name, Process process)
    {
        Name = name;
        _process = process;
        process.OutputDataReceived += (_, line) => Append(line.Data);
        process.ErrorDataReceived += (_, line) => Append(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public Uri Address { get; private set; } = null!;

    /// <summary>A client of this process's HTTP endpoint that authenticates with <see cref="BootstrapKey"/>.</summary>
    public HttpClient Client { get; private set; } = null!;

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
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(dll))!,
        };
        start.ArgumentList.Add(Path.GetFullPath(dll));
        // Port 0: the process binds a free port itself (a port picked here could be taken before the child binds it)
        // and says which in its "Now listening on" line.
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add("http://127.0.0.1:0");
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        if (bootstrapKey is not null)
        {
            start.Environment["ORCHESTRATION_BOOTSTRAP_KEY"] = bootstrapKey;
        }

        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var host = new HostProcess(name, Process.Start(start)!);
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

        Client?.Dispose();
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
        var exited = _process.WaitForExitAsync();
        if (await Task.WhenAny(_listening.Task, exited, Task.Delay(TimeSpan.FromSeconds(60))) != _listening.Task)
        {
            Assert.Fail($"{Name} did not start listening{(_process.HasExited ? $" (exit code {_process.ExitCode})" : string.Empty)}:\n{Output}");
        }

        Address = await _listening.Task;
        Client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };
        Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BootstrapKey);
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

        if (ListeningLine().Match(line) is { Success: true } listening)
        {
            _listening.TrySetResult(new Uri(listening.Groups[1].Value));
        }
    }

    [GeneratedRegex(@"Now listening on: (http://[\w.\-\[\]:]+)")]
    private static partial Regex ListeningLine();
}
