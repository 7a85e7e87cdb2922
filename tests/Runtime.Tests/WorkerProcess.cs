using System.Diagnostics;
using System.Reflection;
using System.Threading.Channels;

namespace Orchestration.Runtime.Tests;

/// <summary>The Runtime.Tests.Worker child process: its output lines as a channel, and kill -9.</summary>
internal sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();

    private WorkerProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, line) =>
        {
            if (line.Data is null)
            {
                _lines.Writer.TryComplete();
            }
            else
            {
                _lines.Writer.TryWrite(line.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static WorkerProcess Start(params string[] arguments)
    {
        var worker = typeof(WorkerProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "worker").Value!;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.GetFullPath(worker));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return new WorkerProcess(Process.Start(start)!);
    }

    /// <summary>The next output line; fails if the worker is silent for 60 s or exits.</summary>
    public async Task<string> ReadLineAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            return await _lines.Reader.ReadAsync(timeout.Token);
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"The worker exited ({(_process.HasExited ? _process.ExitCode : -1)}) before writing the expected line.");
        }
    }

    /// <summary>Every line the worker wrote that has not been read yet (call after it exited).</summary>
    public async Task<IReadOnlyList<string>> ReadRemainingLinesAsync()
    {
        var lines = new List<string>();
        await foreach (var line in _lines.Reader.ReadAllAsync())
        {
            lines.Add(line);
        }

        return lines;
    }

    /// <summary>Sends SIGKILL: no shutdown code runs, as in a crash.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    public void CloseInput() => _process.StandardInput.Close();

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }
}
