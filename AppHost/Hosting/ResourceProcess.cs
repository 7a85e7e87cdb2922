using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Orchestration.AppHost.Hosting;

/// <summary>One running resource: its child process, its prefixed output, its health and its graceful stop.</summary>
internal sealed partial class ResourceProcess
{
    private const int SigTerm = 15;

    private readonly ProjectResource _resource;
    private readonly Process _process;

    private ResourceProcess(ProjectResource resource, Process process)
    {
        _resource = resource;
        _process = process;
        Exited = process.WaitForExitAsync();
    }

    public Task Exited { get; }

    public static ResourceProcess Start(ProjectResource resource)
    {
        if (!File.Exists(resource.AssemblyPath))
        {
            throw new FileNotFoundException($"{resource.Name} is not built: {resource.AssemblyPath} is missing. Run `dotnet build` first.");
        }

        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { resource.AssemblyPath },
            WorkingDirectory = Path.GetDirectoryName(resource.AssemblyPath)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in resource.Environment)
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"{resource.Name} did not start.");
        process.OutputDataReceived += (_, line) => Print(resource.Name, line.Data);
        process.ErrorDataReceived += (_, line) => Print(resource.Name, line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ResourceProcess(resource, process);
    }

    public async Task WaitUntilHealthyAsync(CancellationToken cancellationToken)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{_resource.Name} exited with code {_process.ExitCode} before it became healthy.");
            }

            try
            {
                using var response = await client.GetAsync($"{_resource.Url}/health", cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // a slow first answer
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }
    }

    /// <summary>Asks the process to stop (SIGTERM, so it can deactivate its grains), and kills it after <paramref name="grace"/>.</summary>
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
            _ = Kill(_process.Id, SigTerm);
        }

        var exited = await Task.WhenAny(Exited, Task.Delay(grace));
        if (exited != Exited && !_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    private static void Print(string name, string? line)
    {
        if (line is not null)
        {
            Console.WriteLine($"[{name}] {line}");
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
