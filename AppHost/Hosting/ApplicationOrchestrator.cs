using System.Runtime.InteropServices;

namespace Orchestration.AppHost.Hosting;

/// <summary>
/// A run of the app model (what Aspire's DCP does): starts each resource once those it waits for are healthy, shows
/// every state change and every line the processes write, and stops everything in reverse start order on Ctrl+C,
/// SIGTERM or SIGHUP. A resource that exits during startup fails the run: it is named with its exit code and last
/// lines, the rest is stopped, and the exit code is 1.
/// </summary>
internal sealed class ApplicationOrchestrator(IReadOnlyList<IResource> resources, IReadOnlySet<string> without, string dataDirectory)
{
    private static readonly TimeSpan s_stopGrace = TimeSpan.FromSeconds(10);

    private readonly List<IReadOnlyList<ResourceProcess>> _started = [];
    private volatile bool _stopping;

    public async Task<int> RunAsync()
    {
        using var stop = new CancellationTokenSource();
        void RequestStop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, RequestStop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, RequestStop);
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, RequestStop);

        var runnable = resources.OfType<IProcessResource>().ToList();
        foreach (var resource in runnable.Where(resource => without.Contains(resource.Name)))
        {
            Console.WriteLine($"[apphost] {resource.Name} is left out (--without {resource.Name})");
        }

        var exitCode = 0;
        try
        {
            if (await StartAllAsync([.. runnable.Where(resource => !without.Contains(resource.Name))], stop.Token))
            {
                PrintReady();
                var all = _started.SelectMany(processes => processes).ToList();
                await Task.WhenAny(Task.WhenAll(all.Select(process => process.Exited)), Task.Delay(Timeout.Infinite, stop.Token));
                if (!stop.IsCancellationRequested)
                {
                    Console.WriteLine("[apphost] Every resource has exited.");
                    exitCode = 1;
                }
            }
            else if (!stop.IsCancellationRequested)
            {
                exitCode = 1;
            }
        }
        finally
        {
            await StopAllAsync();
        }

        return exitCode;
    }

    /// <summary>True when every resource is healthy; false when startup failed (reported) or a stop was asked for.</summary>
    private async Task<bool> StartAllAsync(IReadOnlyList<IProcessResource> runnable, CancellationToken stop)
    {
        using var startup = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var healthy = runnable.ToDictionary(resource => (IResource)resource, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        var starts = runnable.Select(resource => StartAsync(resource, healthy, startup)).ToList();
        try
        {
            await Task.WhenAll(starts);
            return true;
        }
        catch when (starts.Any(start => start.IsFaulted))
        {
            foreach (var failure in starts.Where(start => start.IsFaulted).Select(start => start.Exception!.InnerException))
            {
                Report(failure);
            }

            Console.WriteLine("[apphost] Startup failed.");
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task StartAsync(IProcessResource resource, Dictionary<IResource, TaskCompletionSource> healthy, CancellationTokenSource startup)
    {
        try
        {
            // A resource left out (--without) is not waited for: it is run elsewhere, e.g. from an IDE.
            var dependencies = resource.WaitsFor.Where(healthy.ContainsKey).Select(dependency => healthy[dependency].Task).ToList();
            if (dependencies.Count > 0)
            {
                Console.WriteLine($"[apphost] {resource.Name} is waiting for {string.Join(", ", resource.WaitsFor.Select(dependency => dependency.Name))}");
                await Task.WhenAll(dependencies).WaitAsync(startup.Token);
            }

            var specs = await resource.PrepareAsync(startup.Token);
            var processes = new List<ResourceProcess>();
            lock (_started)
            {
                startup.Token.ThrowIfCancellationRequested();
                _started.Add(processes);
                foreach (var spec in specs)
                {
                    var process = ResourceProcess.Start(spec);
                    processes.Add(process);
                    Console.WriteLine($"[apphost] {process.Name} is starting (pid {process.Pid})");
                    _ = WatchAsync(process);
                }
            }

            await Task.WhenAll(processes.Select(async process =>
            {
                await process.WaitUntilHealthyAsync(startup.Token);
                Console.WriteLine($"[apphost] {process.Name} is healthy at {process.Url} (pid {process.Pid})");
            }));
            healthy[resource].SetResult();
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            startup.Cancel();
            throw;
        }
    }

    /// <summary>Reports a process that exits on its own once it was healthy; the others keep running.</summary>
    private async Task WatchAsync(ResourceProcess process)
    {
        await process.Exited;
        if (!_stopping && process.IsHealthy)
        {
            Console.WriteLine($"[apphost] {process.Name} exited with code {process.ExitCode}");
        }
    }

    private static void Report(Exception? failure)
    {
        switch (failure)
        {
            case ResourceExitedException exited:
                Console.WriteLine($"[apphost] {exited.Name} exited with code {exited.ExitCode} during startup. Its last lines:");
                foreach (var line in exited.LastLines)
                {
                    Console.WriteLine($"[apphost]   | {line}");
                }

                break;
            case AppHostException explained:
                Console.WriteLine($"[apphost] {explained.Message}");
                break;
            case not null:
                Console.WriteLine($"[apphost] {failure}");
                break;
        }
    }

    private void PrintReady()
    {
        var all = _started.SelectMany(processes => processes).ToList();
        var width = all.Count == 0 ? 0 : all.Max(process => process.Name.Length);
        Console.WriteLine("[apphost] Ready:");
        foreach (var process in all)
        {
            Console.WriteLine($"[apphost]   {process.Name.PadRight(width)}  healthy  {process.Url}  (pid {process.Pid})");
        }

        var key = Path.Combine(dataDirectory, "bootstrap-key");
        Console.WriteLine(File.Exists(key)
            ? $"[apphost] The platform key is in {key}. Press Ctrl+C to stop."
            : "[apphost] Press Ctrl+C to stop.");
    }

    private async Task StopAllAsync()
    {
        _stopping = true;
        List<IReadOnlyList<ResourceProcess>> started;
        lock (_started)
        {
            started = [.. _started];
        }

        var running = started.Where(processes => processes.Any(process => !process.Exited.IsCompleted)).ToList();
        if (running.Count == 0)
        {
            return;
        }

        Console.WriteLine("[apphost] Stopping.");
        for (var i = started.Count - 1; i >= 0; i--)
        {
            await Task.WhenAll(started[i].Select(async process =>
            {
                if (process.Exited.IsCompleted)
                {
                    return;
                }

                await process.StopAsync(s_stopGrace);
                Console.WriteLine($"[apphost] {process.Name} stopped (exit code {process.ExitCode})");
            }));
        }
    }
}
