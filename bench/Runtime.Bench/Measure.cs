using System.Diagnostics;

namespace Orchestration.Runtime.Bench;

/// <summary>Runs closed-loop workers for a while and reports operations per second.</summary>
internal static class Measure
{
    /// <summary>Starts <paramref name="workers"/> loops of <paramref name="operation"/>; counts completions over <paramref name="duration"/> after <paramref name="warmup"/>.</summary>
    public static async Task<double> ThroughputAsync(int workers, TimeSpan warmup, TimeSpan duration, Func<int, Task> operation)
    {
        long completed = 0;
        var measuring = false;
        using var stop = new CancellationTokenSource();
        var loops = Enumerable.Range(0, workers).Select(worker => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await operation(worker);
                if (Volatile.Read(ref measuring))
                {
                    Interlocked.Increment(ref completed);
                }
            }
        })).ToArray();

        await Task.Delay(warmup);
        Volatile.Write(ref measuring, true);
        var watch = Stopwatch.StartNew();
        await Task.Delay(duration);
        var counted = Interlocked.Read(ref completed);
        var elapsed = watch.Elapsed;
        stop.Cancel();
        await Task.WhenAll(loops);
        return counted / elapsed.TotalSeconds;
    }
}
