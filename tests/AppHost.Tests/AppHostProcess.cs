using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Orchestration.AppHost.Tests;

/// <summary>The real AppHost started by path with arguments and environment, its console recorded line by line.</summary>
internal sealed partial class AppHostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];

    private AppHostProcess(Process process)
    {
        _process = process;
    }

    public static string AssemblyPath { get; } = Path.GetFullPath(Metadata("apphost"));

    public static string RepositoryRoot { get; } = Path.GetFullPath(Metadata("repository-root"));

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static AppHostProcess Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { AssemblyPath },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var appHost = new AppHostProcess(Process.Start(start)!);
        appHost._process.OutputDataReceived += (_, line) => appHost.Record(line.Data);
        appHost._process.ErrorDataReceived += (_, line) => appHost.Record(line.Data);
        appHost._process.BeginOutputReadLine();
        appHost._process.BeginErrorReadLine();
        return appHost;
    }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_output)
            {
                return [.. _output];
            }
        }
    }

    public string Output => string.Join('\n', Lines);

    /// <summary>Waits for a line matching <paramref name="pattern"/>; fails with the whole console if the AppHost exits first or time runs out.</summary>
    public async Task<Match> WaitForLineAsync(Regex pattern, TimeSpan timeout)
    {
        var started = Stopwatch.StartNew();
        while (true)
        {
            if (Lines.Select(line => pattern.Match(line)).FirstOrDefault(match => match.Success) is { } match)
            {
                return match;
            }

            Assert.False(_process.HasExited, $"The AppHost exited (code {(_process.HasExited ? _process.ExitCode : 0)}) before printing /{pattern}/:\n{Output}");
            Assert.True(started.Elapsed < timeout, $"No /{pattern}/ within {timeout.TotalSeconds} s:\n{Output}");
            await Task.Delay(100);
        }
    }

    /// <summary>Every process the AppHost reported starting: replica name → pid.</summary>
    public IReadOnlyDictionary<string, int> StartedProcesses() =>
        Lines.Select(line => StartingLine().Match(line)).Where(match => match.Success)
            .ToDictionary(match => match.Groups["name"].Value, match => int.Parse(match.Groups["pid"].Value, CultureInfo.InvariantCulture));

    /// <summary>Every URL the AppHost reported healthy: replica name → URL.</summary>
    public IReadOnlyDictionary<string, string> HealthyUrls() =>
        Lines.Select(line => HealthyLine().Match(line)).Where(match => match.Success)
            .ToDictionary(match => match.Groups["name"].Value, match => match.Groups["url"].Value);

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancellation.Token);
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, as a service manager stops it.</summary>
    public void Terminate() =>
        Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();

    public static bool IsAlive(int pid) => Directory.Exists($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}")
        && !File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat").Split(' ')[2].Equals("Z", StringComparison.Ordinal);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    /// <summary>A temporary data directory others can pass through: as root, the AppHost runs PostgreSQL as <c>postgres</c>.</summary>
    public static string CreateDataDirectory()
    {
        var directory = Directory.CreateTempSubdirectory("orch-apphost-").FullName;
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
        }

        return directory;
    }

    [GeneratedRegex(@"^\[apphost\] (?<name>\S+) is starting \(pid (?<pid>\d+)\)$")]
    private static partial Regex StartingLine();

    [GeneratedRegex(@"^\[apphost\] (?<name>\S+) is healthy at (?<url>\S+) \(pid \d+\)$")]
    private static partial Regex HealthyLine();

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

    private static string Metadata(string key) =>
        typeof(AppHostProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(attribute => attribute.Key == key).Value!;
}
