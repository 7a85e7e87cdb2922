using System.Diagnostics;
using System.Globalization;
using Orchestration.Bench;

namespace Orchestration.Product.Bench;

/// <summary>
/// The SSE clients of <see cref="EventsSseLatencyBenchmark"/>, in a child process (this program with
/// <see cref="ServeArgument"/>) so that reading 100 streams does not share a runtime, a thread pool and a GC with the
/// producer whose creates are the baseline. Measured with the readers in the benchmark's own process, creates came back
/// in clusters 200–500 ms late (the Api had answered each in 30–40 ms); with the readers elsewhere they did not.
/// Talks over its standard input and output, one line each way: <c>window</c> answers the median latency of the
/// arrivals since the previous <c>window</c> (for the warm-up), <c>mark</c> starts counting GC pauses (the measured
/// window begins), <c>stop LAST</c> waits until every client has <c>LAST</c> (at most 30 s), writes every arrival to
/// the file named at start and answers <c>done</c>.
/// </summary>
internal sealed class SseReaderProcess : IAsyncDisposable
{
    public const string ServeArgument = "--sse-readers";

    private readonly Process _process;
    private readonly string _output;

    private SseReaderProcess(Process process, string output)
    {
        _process = process;
        _output = output;
    }

    /// <summary>Starts the child and returns once its <paramref name="clients"/> streams are open.</summary>
    public static async Task<SseReaderProcess> StartAsync(Uri address, string key, string pathAndQuery, int clients)
    {
        var output = Path.Combine(Path.GetTempPath(), $"sse-arrivals-{Guid.NewGuid():N}.bin");
        var process = ChildProcess.StartSelf(ServeArgument, address.ToString(), key, pathAndQuery, clients.ToString(CultureInfo.InvariantCulture), output);
        var readers = new SseReaderProcess(process, output);
        try
        {
            await readers.ExpectAsync("connected");
            return readers;
        }
        catch
        {
            await readers.DisposeAsync();
            throw;
        }
    }

    /// <summary>The median occurredAt→client latency (ms) of what arrived since the previous call; NaN when nothing did.</summary>
    public double WindowMedian()
    {
        _process.StandardInput.WriteLine("window");
        return double.Parse(_process.StandardOutput.ReadLine()!, CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Waits until every client has received <paramref name="last"/>; then each client's arrivals, whether it was told to
    /// reconnect, and the readers' process's GC pauses since <see cref="MarkAsync"/> (or since it started).
    /// </summary>
    public async Task<(List<Arrival>[] Received, bool[] Reconnected, GcPauses Gc)> StopAsync(long last)
    {
        await _process.StandardInput.WriteLineAsync($"stop {last.ToString(CultureInfo.InvariantCulture)}");
        await ExpectAsync("done");
        using var file = new BinaryReader(File.OpenRead(_output));
        var gc = new GcPauses(TimeSpan.FromTicks(file.ReadInt64()), TimeSpan.FromTicks(file.ReadInt64()), file.ReadString());
        var clients = file.ReadInt32();
        var received = new List<Arrival>[clients];
        var reconnected = new bool[clients];
        for (var i = 0; i < clients; i++)
        {
            reconnected[i] = file.ReadBoolean();
            var count = file.ReadInt32();
            received[i] = new List<Arrival>(count);
            for (var j = 0; j < count; j++)
            {
                received[i].Add(new Arrival(file.ReadInt64(), file.ReadInt64(), file.ReadInt64()));
            }
        }

        return (received, reconnected, gc);
    }

    /// <summary>Starts counting the readers' GC pauses from now (the measured window).</summary>
    public async Task MarkAsync()
    {
        await _process.StandardInput.WriteLineAsync("mark");
        await ExpectAsync("marked");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        File.Delete(_output);
    }

    private async Task ExpectAsync(string expected)
    {
        var line = await _process.StandardOutput.ReadLineAsync();
        if (line != expected)
        {
            throw new InvalidOperationException($"The SSE reader process answered '{line}' instead of '{expected}'.");
        }
    }

    /// <summary>The child: <c>address key pathAndQuery clients outputFile</c>.</summary>
    public static async Task ServeAsync(string[] arguments)
    {
        using var http = HttpBoard.Client(new Uri(arguments[0]), arguments[1]);
        http.Timeout = Timeout.InfiniteTimeSpan;
        using var disconnect = new CancellationTokenSource();
        var count = int.Parse(arguments[3], CultureInfo.InvariantCulture);
        var clients = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => SseClient.ConnectAsync(http, arguments[2], disconnect.Token)));
        Console.WriteLine("connected");
        var taken = new int[count];
        var watch = new GcWatch();
        while (await Console.In.ReadLineAsync() is { } command)
        {
            if (command == "window")
            {
                var latencies = clients.SelectMany((client, i) => client.Take(ref taken[i])).Select(Arrival.Milliseconds).ToList();
                Console.WriteLine((latencies.Count == 0 ? double.NaN : Percentiles.Of(latencies).P50).ToString("R", CultureInfo.InvariantCulture));
            }
            else if (command == "mark")
            {
                watch.Dispose();
                watch = new GcWatch();
                Console.WriteLine("marked");
            }
            else if (command.StartsWith("stop ", StringComparison.Ordinal))
            {
                var last = long.Parse(command.AsSpan(5), CultureInfo.InvariantCulture);
                var deadline = Stopwatch.StartNew(); // a client missing events never gets them: 30 s is plenty
                while (clients.Any(client => client.LastSequence < last) && deadline.Elapsed < TimeSpan.FromSeconds(30))
                {
                    await Task.Delay(50);
                }

                await disconnect.CancelAsync();
                await Task.WhenAll(clients.Select(client => client.StopAsync()));
                await using (var file = new BinaryWriter(File.Create(arguments[4])))
                {
                    var gc = watch.Stop();
                    file.Write(gc.Paused.Ticks);
                    file.Write(gc.LongestPause.Ticks);
                    file.Write(gc.Collections);
                    file.Write(count);
                    foreach (var client in clients)
                    {
                        var all = 0;
                        var arrivals = client.Take(ref all);
                        file.Write(client.Reconnected);
                        file.Write(arrivals.Count);
                        foreach (var arrival in arrivals)
                        {
                            file.Write(arrival.Sequence);
                            file.Write(arrival.ArrivedTicks);
                            file.Write(arrival.OccurredTicks);
                        }
                    }
                }

                Console.WriteLine("done");
                return;
            }
        }
    }
}

/// <summary>A process's GC pauses over a window: their total, the longest, and the collections by generation.</summary>
internal readonly record struct GcPauses(TimeSpan Paused, TimeSpan LongestPause, string Collections)
{
    public override string ToString() =>
        $"{Paused.TotalMilliseconds:F0} ms (longest {LongestPause.TotalMilliseconds:F0} ms; collections gen0/1/2 {Collections})";
}

/// <summary>
/// Watches this process's GC pauses from its creation: a thread samples the total pause time every millisecond, so the
/// largest growth between two samples is the longest pause (a collection stops the sampler too).
/// </summary>
internal sealed class GcWatch : IDisposable
{
    private readonly TimeSpan _pausedAtStart = GC.GetTotalPauseDuration();
    private readonly int[] _countsAtStart = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
    private readonly Thread _sampler;
    private volatile bool _stopped;
    private TimeSpan _longest;

    public GcWatch()
    {
        _sampler = new Thread(Sample) { IsBackground = true, Name = "gc-watch" };
        _sampler.Start();
    }

    public GcPauses Stop()
    {
        Dispose();
        var counts = string.Join('/', Enumerable.Range(0, 3).Select(generation => GC.CollectionCount(generation) - _countsAtStart[generation]));
        return new GcPauses(GC.GetTotalPauseDuration() - _pausedAtStart, _longest, counts);
    }

    public void Dispose()
    {
        _stopped = true;
        _sampler.Join();
    }

    private void Sample()
    {
        var previous = GC.GetTotalPauseDuration();
        while (!_stopped)
        {
            Thread.Sleep(1);
            var now = GC.GetTotalPauseDuration();
            if (now - previous > _longest)
            {
                _longest = now - previous;
            }

            previous = now;
        }
    }
}
