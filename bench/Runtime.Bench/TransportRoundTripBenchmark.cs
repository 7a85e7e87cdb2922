using System.Diagnostics;
using Orchestration.Bench;

namespace Orchestration.Runtime.Bench;

/// <summary>
/// transport.roundtrip: request/response between a client and an echo server in this process over loopback, for the
/// two transport candidates of ADR 7 — the runtime's framed TCP (value) against HTTP/2 cleartext (baseline) — with
/// 64-byte and 4 KiB bodies and 1 and 64 concurrent callers. Each cell reports round trips/s, p50 and p99 latency (µs)
/// and process CPU per round trip (µs; client and server together). The candidates alternate cell by cell so a change
/// in the machine's load hits both.
/// </summary>
internal static class TransportRoundTripBenchmark
{
    private static readonly int[] s_payloads = [64, 4096];
    private static readonly int[] s_callers = [1, 64];

    public static async Task<IReadOnlyList<Result>> RunAsync(Settings settings)
    {
        var results = new List<Result>();
        foreach (var payload in s_payloads)
        {
            foreach (var callers in s_callers)
            {
                var cell = $"{payload}B.c{callers}";
                var tcp = await RunCandidateAsync(await TcpRoundTrip.StartAsync(), payload, callers, settings);
                var http2 = await RunCandidateAsync(await Http2RoundTrip.StartAsync(), payload, callers, settings);
                results.Add(Result.Compare($"transport.roundtrip.tcp.{cell}", tcp.PerSecond, "round trips/s", $"http2.{cell}", http2.PerSecond));
                results.Add(Result.Compare($"transport.roundtrip.tcp.{cell}.p50", tcp.P50, "µs", $"http2.{cell}.p50", http2.P50));
                results.Add(Result.Compare($"transport.roundtrip.tcp.{cell}.p99", tcp.P99, "µs", $"http2.{cell}.p99", http2.P99));
                results.Add(Result.Compare($"transport.roundtrip.tcp.{cell}.cpu", tcp.CpuMicroseconds, "µs CPU/round trip", $"http2.{cell}.cpu", http2.CpuMicroseconds));
            }
        }

        return results;
    }

    /// <summary>The framed TCP transport's round trips/s with an echo handler: the bare-transport baseline for remote grain calls.</summary>
    public static async Task<double> TcpRoundTripsPerSecondAsync(Settings settings, int payload, int callers) =>
        (await RunCandidateAsync(await TcpRoundTrip.StartAsync(), payload, callers, settings)).PerSecond;

    private static async Task<Sample> RunCandidateAsync(IRoundTripCandidate candidate, int payload, int callers, Settings settings)
    {
        await using (candidate)
        {
            var request = new byte[payload];
            Random.Shared.NextBytes(request);
            var sample = await ClosedLoopAsync(callers, settings, async () =>
            {
                var answer = await candidate.SendAsync(request);
                if (answer.Length != payload)
                {
                    throw new InvalidOperationException($"{candidate.Name}: echo of {payload} bytes came back with {answer.Length}.");
                }
            });
            Console.Error.WriteLine(
                $"{candidate.Name,-5} {payload,5} B x{callers,-3}: {sample.PerSecond,10:F0} round trips/s  p50 {sample.P50,7:F1} µs  p99 {sample.P99,7:F1} µs  {sample.CpuMicroseconds,5:F1} µs CPU");
            return sample;
        }
    }

    /// <summary>
    /// Like <see cref="Measure.ThroughputAsync"/> (the same warm-up to a steady rate), but also times each round trip
    /// and reads the process's CPU time and bytes allocated over the measured window only; with a <c>peer</c> (the other
    /// side of a cross-process call), that process's CPU time over the same window too, and its bytes allocated if
    /// <c>peerAllocatedBytes</c> can ask it.
    /// </summary>
    public static async Task<Sample> ClosedLoopAsync(
        int callers, Settings settings, Func<Task> roundTrip, Process? peer = null, Func<long>? peerAllocatedBytes = null)
    {
        long completed = 0;
        var recording = 0;
        var latencies = new List<double>[callers];
        using var stop = new CancellationTokenSource();
        var started = Stopwatch.StartNew();
        var loops = Enumerable.Range(0, callers).Select(caller => Task.Run(async () =>
        {
            var mine = latencies[caller] = new List<double>(1 << 16);
            while (!stop.IsCancellationRequested)
            {
                var begin = Stopwatch.GetTimestamp();
                await roundTrip();
                if (Volatile.Read(ref recording) == 1)
                {
                    mine.Add(Stopwatch.GetElapsedTime(begin).TotalMicroseconds);
                }

                Interlocked.Increment(ref completed);
            }
        })).ToArray();

        try
        {
            var (lastCount, lastTime) = (0L, TimeSpan.Zero);
            await Measure.WarmUpAsync(started, settings, "round trips/s", time =>
            {
                var count = Interlocked.Read(ref completed);
                var rate = (count - lastCount) / (time - lastTime).TotalSeconds;
                (lastCount, lastTime) = (count, time);
                return rate;
            });

            var peerAllocatedBefore = peerAllocatedBytes?.Invoke() ?? 0;
            var before = (Count: Interlocked.Read(ref completed), Cpu: Process.GetCurrentProcess().TotalProcessorTime, PeerCpu: PeerCpu(peer),
                Allocated: GC.GetTotalAllocatedBytes(precise: true), Time: started.Elapsed);
            Volatile.Write(ref recording, 1);
            await Task.Delay(settings.Duration);
            Volatile.Write(ref recording, 0);
            var count = Interlocked.Read(ref completed) - before.Count;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - before.Cpu;
            var peerCpu = PeerCpu(peer) - before.PeerCpu;
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - before.Allocated;
            var peerAllocated = peerAllocatedBytes?.Invoke() - peerAllocatedBefore;
            var elapsed = started.Elapsed - before.Time;
            await stop.CancelAsync();
            await Task.WhenAll(loops);
            var percentiles = Percentiles.Of(latencies.SelectMany(list => list));
            return new Sample(count / elapsed.TotalSeconds, percentiles.P50, percentiles.P99, cpu.TotalMicroseconds / count)
            {
                PeerCpuMicroseconds = peer is null ? null : peerCpu.TotalMicroseconds / count,
                AllocatedKiB = allocated / 1024.0 / count,
                PeerAllocatedKiB = peerAllocated / 1024.0 / count,
            };
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(loops);
        }
    }

    private static TimeSpan PeerCpu(Process? peer)
    {
        if (peer is null)
        {
            return TimeSpan.Zero;
        }

        peer.Refresh();
        return peer.TotalProcessorTime;
    }

    /// <summary>
    /// Round trips/s, latency percentiles (µs), CPU per round trip (µs) and KiB allocated per round trip, of this process
    /// and of the peer, if any. Allocation does not depend on the machine's load: a steadier measure of per-call cost.
    /// </summary>
    internal sealed record Sample(double PerSecond, double P50, double P99, double CpuMicroseconds)
    {
        public double? PeerCpuMicroseconds { get; init; }

        public double AllocatedKiB { get; init; }

        public double? PeerAllocatedKiB { get; init; }
    }
}
