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
/// arrivals since the previous <c>window</c> (for the warm-up), <c>stop LAST</c> waits until every client has
/// <c>LAST</c> (at most 30 s), writes every arrival to the file named at start and answers <c>done</c>.
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
    /// reconnect, and how long the readers' process was paused by its GC since it started.
    /// </summary>
    public async Task<(List<Arrival>[] Received, bool[] Reconnected, TimeSpan Paused)> StopAsync(long last)
    {
        await _process.StandardInput.WriteLineAsync($"stop {last.ToString(CultureInfo.InvariantCulture)}");
        await ExpectAsync("done");
        using var file = new BinaryReader(File.OpenRead(_output));
        var paused = TimeSpan.FromTicks(file.ReadInt64());
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

        return (received, reconnected, paused);
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
        while (await Console.In.ReadLineAsync() is { } command)
        {
            if (command == "window")
            {
                var latencies = clients.SelectMany((client, i) => client.Take(ref taken[i])).Select(Arrival.Milliseconds).ToList();
                Console.WriteLine((latencies.Count == 0 ? double.NaN : Percentiles.Of(latencies).P50).ToString("R", CultureInfo.InvariantCulture));
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
                    file.Write(GC.GetTotalPauseDuration().Ticks);
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
