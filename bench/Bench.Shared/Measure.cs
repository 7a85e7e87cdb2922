using System.Diagnostics;

namespace Orchestration.Bench;

/// <summary>
/// A closed-loop throughput: the steady rate, and how the start compares with it: the one-second windows of the warm-up
/// (the first is the first second after start), and whether the warm-up settled (the last two agreed, the JIT quiet) before its limit.
/// </summary>
public sealed record Throughput(double PerSecond, TimeSpan Warmup, IReadOnlyList<double> Windows, bool Steady)
{
    /// <summary>This process's CPU time per operation over the measured window, in microseconds.</summary>
    public double? CpuMicroseconds { get; init; }

    /// <summary>The server's CPU time per operation over the measured window, when the caller can sample it.</summary>
    public double? ServerCpuMicroseconds { get; init; }

    /// <summary>The first second's rate ÷ the steady rate: how cold the start is.</summary>
    public double Ramp => Windows[0] / PerSecond;

    /// <summary>
    /// Two measurements of one workload taken apart (see the write benchmarks' alternating order) as one: the mean rate and
    /// CPU, and the first one's start (its first second, warm-up and windows).
    /// </summary>
    public static Throughput Combine(Throughput first, Throughput second) =>
        first with
        {
            PerSecond = (first.PerSecond + second.PerSecond) / 2,
            CpuMicroseconds = (first.CpuMicroseconds + second.CpuMicroseconds) / 2,
            ServerCpuMicroseconds = (first.ServerCpuMicroseconds + second.ServerCpuMicroseconds) / 2,
        };

    /// <summary>Seconds from start to the end of the first window at ≥ 90 % of the steady rate; null if none got there.</summary>
    public int? RampSeconds => Windows.Select((rate, index) => (rate, index)).FirstOrDefault(window => window.rate >= 0.9 * PerSecond) is { rate: > 0 } reached
        ? reached.index + 1
        : null;
}

/// <summary>The one-second windows of a warm-up, and whether it ended settled (rate steady, JIT quiet) rather than at its limit.</summary>
public sealed record WarmUp(IReadOnlyList<double> Windows, bool Settled);

/// <summary>Runs closed-loop workers until their rate settles, then reports operations per second.</summary>
public static class Measure
{
    private static readonly TimeSpan s_window = TimeSpan.FromSeconds(1);

    /// <summary>Two consecutive one-second windows closer than this count as steady.</summary>
    private const double SteadyTolerance = 0.10;

    /// <summary>A window in which the JIT compiled for less than this share of it counts as settled.</summary>
    private const double JitSettledShare = 0.02;

    /// <summary>
    /// Starts <paramref name="workers"/> loops of <paramref name="operation"/>. Warms up for at least
    /// <see cref="Settings.Warmup"/> and until two consecutive one-second windows differ by less than 10 % with the JIT quiet (at most
    /// <see cref="Settings.MaxWarmup"/>), then counts completions over <see cref="Settings.Duration"/> (or the duration given). The first
    /// window is kept: it is the rate of the first second after start, activations included. CPU time per operation
    /// is taken over the measured window: this process's, and the server's when <paramref name="serverCpu"/> samples
    /// its cumulative CPU time (on a shared machine, steadier than the rate).
    /// </summary>
    public static async Task<Throughput> ThroughputAsync(
        int workers, Settings settings, Func<int, Task> operation, Func<Task<TimeSpan>>? serverCpu = null, TimeSpan? duration = null)
    {
        long completed = 0;
        using var stop = new CancellationTokenSource();
        var started = Stopwatch.StartNew();
        var loops = Enumerable.Range(0, workers).Select(worker => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await operation(worker);
                Interlocked.Increment(ref completed);
            }
        })).ToArray();

        try
        {
            var firstSecond = new List<string>();
            for (var quarter = 1; quarter <= 4; quarter++)
            {
                await DelayUntilAsync(started, TimeSpan.FromMilliseconds(250 * quarter));
                firstSecond.Add($"{Interlocked.Read(ref completed)}@{started.ElapsedMilliseconds}ms");
            }

            Console.Error.WriteLine($"first second (completed@elapsed): {string.Join(", ", firstSecond)}");
            var (lastCount, lastTime) = (0L, TimeSpan.Zero);
            var (windows, steady) = await WarmUpAsync(started, settings, "ops/s", time =>
            {
                var count = Interlocked.Read(ref completed);
                var rate = (count - lastCount) / (time - lastTime).TotalSeconds;
                (lastCount, lastTime) = (count, time);
                return rate;
            });
            var warmup = lastTime;
            var clientCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var serverCpuBefore = serverCpu is null ? TimeSpan.Zero : await serverCpu();
            await DelayUntilAsync(started, lastTime + (duration ?? settings.Duration));
            var counted = Interlocked.Read(ref completed) - lastCount;
            var elapsed = started.Elapsed - lastTime;
            var clientCpu = Process.GetCurrentProcess().TotalProcessorTime - clientCpuBefore;
            var serverCpuUsed = serverCpu is null ? (TimeSpan?)null : await serverCpu() - serverCpuBefore;
            return new Throughput(counted / elapsed.TotalSeconds, warmup, windows, steady)
            {
                CpuMicroseconds = clientCpu.TotalMicroseconds / counted,
                ServerCpuMicroseconds = serverCpuUsed?.TotalMicroseconds / counted,
            };
        }
        finally
        {
            // Also on failure: loops left running would keep the cluster (and the process) busy for ever.
            await stop.CancelAsync();
            await Task.WhenAll(loops);
        }
    }

    /// <summary>
    /// Samples <paramref name="window"/> at the end of each one-second window after <paramref name="started"/> (it gets
    /// the window's end and measures what happened since its previous call) for at least <see cref="Settings.Warmup"/> and
    /// until two consecutive windows are steady (by default within 10 %) and the JIT has settled (at most
    /// <see cref="Settings.MaxWarmup"/>). Prints the windows and the JIT's time in each to stderr and returns the windows.
    /// </summary>
    /// <remarks>
    /// Tiered compilation recompiles hot code twice (instrumented, then optimised) on a background thread: in the
    /// task lifecycle that kept half a core busy for 8 s of load while the rate looked steady at less than half its final
    /// value, so a steady rate alone measured the JIT. A window counts as settled when the JIT (here and in the
    /// processes the benchmark started, see <see cref="JitActivity"/>) worked less than <see cref="JitSettledShare"/> of it.
    /// </remarks>
    public static async Task<WarmUp> WarmUpAsync(
        Stopwatch started, Settings settings, string unit, Func<TimeSpan, double> window, Func<double, double, bool>? steady = null)
    {
        steady ??= IsSteady;
        var windows = new List<double>();
        var jitMilliseconds = new List<double>();
        var lastTime = TimeSpan.Zero;
        var settled = false;
        var lastJit = JitActivity.Total();
        while (true)
        {
            await DelayUntilAsync(started, lastTime + s_window);
            var windowStart = lastTime;
            lastTime = started.Elapsed;
            windows.Add(window(lastTime));
            var jit = JitActivity.Total();
            jitMilliseconds.Add((jit - lastJit).TotalMilliseconds);
            lastJit = jit;
            var jitSettled = jitMilliseconds[^1] < JitSettledShare * (lastTime - windowStart).TotalMilliseconds;
            settled = jitSettled && windows.Count >= 2 && steady(windows[^2], windows[^1]);
            if (lastTime >= settings.MaxWarmup || (lastTime >= settings.Warmup && settled))
            {
                break;
            }
        }

        Console.Error.WriteLine($"warm-up windows ({unit}): {string.Join(", ", windows.Select(value => value.ToString("F1")))}");
        Console.Error.WriteLine($"JIT ms in each: {string.Join(", ", jitMilliseconds.Select(value => value.ToString("F0")))}");
        return new WarmUp(windows, settled);
    }

    /// <summary>A loaded machine may wake the sampler late; a deadline already passed must not become a negative delay.</summary>
    private static Task DelayUntilAsync(Stopwatch started, TimeSpan deadline)
    {
        var remaining = deadline - started.Elapsed;
        return remaining > TimeSpan.Zero ? Task.Delay(remaining) : Task.CompletedTask;
    }

    private static bool IsSteady(double previous, double current) =>
        Math.Abs(current - previous) < SteadyTolerance * Math.Max(current, previous);
}
