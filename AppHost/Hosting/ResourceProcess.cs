using System.Diagnostics;

namespace Orchestration.AppHost.Hosting;

/// <summary>One running process of a resource: its prefixed output, its last lines, its health and its graceful stop.</summary>
internal sealed class ResourceProcess
{
    private const int KeptLines = 20;

    // A session of its own: a terminal's Ctrl+C reaches only the AppHost, which then stops children in reverse order.
    private static readonly string? s_setsid = new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists);

    private readonly ProcessSpec _spec;
    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();

    private ResourceProcess(ProcessSpec spec, Process process)
    {
        _spec = spec;
        _process = process;
        Exited = process.WaitForExitAsync();
    }

    public string Name => _spec.Name;

    public string Url => _spec.Url;

    public int Pid => _process.Id;

    public bool IsHealthy { get; private set; }

    /// <summary>Completes when the process has exited and its output is read.</summary>
    public Task Exited { get; }

    public int ExitCode => _process.ExitCode;

    public IReadOnlyList<string> LastLines
    {
        get
        {
            lock (_lastLines)
            {
                return [.. _lastLines];
            }
        }
    }

    public static ResourceProcess Start(ProcessSpec spec)
    {
        var start = new ProcessStartInfo(s_setsid ?? spec.FileName)
        {
            WorkingDirectory = spec.WorkingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (s_setsid is not null)
        {
            start.ArgumentList.Add(spec.FileName); // setsid execs it in place: the pid stays the resource's own
        }

        foreach (var argument in spec.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in spec.Environment)
        {
            start.Environment[name] = value;
        }

        if (spec.UserName is not null)
        {
            start.UserName = spec.UserName;
        }

        var process = Process.Start(start) ?? throw new AppHostException($"{spec.Name} did not start.");
        var resource = new ResourceProcess(spec, process);
        process.OutputDataReceived += (_, line) => resource.Print(line.Data);
        process.ErrorDataReceived += (_, line) => resource.Print(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return resource;
    }

    /// <summary>Probes until healthy; throws <see cref="ResourceExitedException"/> if the process exits first.</summary>
    public async Task WaitUntilHealthyAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                await Exited; // the rest of its output
                throw new ResourceExitedException(Name, ExitCode, LastLines);
            }

            try
            {
                if (await _spec.IsHealthyAsync(cancellationToken))
                {
                    IsHealthy = true;
                    return;
                }
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested && exception is not OutOfMemoryException)
            {
                // not answering yet
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }
    }

    /// <summary>Asks the process to stop with its stop signal, and kills it (and its children) after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            _process.Kill(entireProcessTree: true);
        }
        else
        {
            Posix.Signal(_process.Id, _spec.StopSignal);
        }

        if (await Task.WhenAny(Exited, Task.Delay(grace)) != Exited && !_process.HasExited)
        {
            Console.WriteLine($"[apphost] {Name} did not stop within {grace.TotalSeconds:0} s; killing it");
            _process.Kill(entireProcessTree: true);
        }

        await Exited;
    }

    private void Print(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            if (_lastLines.Count > KeptLines)
            {
                _lastLines.Dequeue();
            }
        }

        Console.WriteLine($"[{Name}] {line}");
    }
}

/// <summary>A process exited before it became healthy.</summary>
internal sealed class ResourceExitedException(string name, int exitCode, IReadOnlyList<string> lastLines)
    : Exception($"{name} exited with code {exitCode} during startup.")
{
    public string Name { get; } = name;

    public int ExitCode { get; } = exitCode;

    public IReadOnlyList<string> LastLines { get; } = lastLines;
}
