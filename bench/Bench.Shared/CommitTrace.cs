using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Orchestration.Bench;

/// <summary>
/// <c>--trace</c>: the runtime's first commits (when each ended, its size, how long it took) and when activations were
/// created, from the runtime's own instruments: where the first second after start goes.
/// </summary>
public sealed class CommitTrace : IDisposable
{
    private const int Buckets = 16;
    private const int BucketMilliseconds = 250;

    private readonly MeterListener _listener = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly long[] _commitCount = new long[Buckets];
    private readonly long[] _commitWrites = new long[Buckets];
    private readonly double[] _commitSeconds = new double[Buckets];
    private readonly ConcurrentQueue<long> _activationTimes = new();
#pragma warning disable IDE1006 // a thread-static field: t_ prefix (see .editorconfig)
    [ThreadStatic]
    private static long t_batchSize;
#pragma warning restore IDE1006

    public CommitTrace()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name.StartsWith("Orchestration", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "orchestration.storage.commit.batch_size")
            {
                t_batchSize = value; // RecordCommit records the size, then the duration, on one thread
            }
            else if (instrument.Name == "orchestration.grain.activations" && value > 0)
            {
                _activationTimes.Enqueue(_clock.ElapsedMilliseconds);
            }
        });
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            var bucket = _clock.ElapsedMilliseconds / BucketMilliseconds;
            if (instrument.Name == "orchestration.storage.commit.duration" && bucket < Buckets)
            {
                lock (_commitSeconds)
                {
                    _commitCount[bucket]++;
                    _commitWrites[bucket] += t_batchSize;
                    _commitSeconds[bucket] += value;
                }
            }
        });
        _listener.Start();
    }

    public void Restart() => _clock.Restart();

    public void Dispose()
    {
        _listener.Dispose();
        var activations = _activationTimes.ToArray();
        if (activations.Length > 0)
        {
            Console.Error.WriteLine($"activations: {activations.Length}, first at {activations.Min()}ms, last at {activations.Max()}ms");
        }

        Console.Error.WriteLine("per 250 ms after start: commits, writes per commit, mean commit ms, commit-busy share of 2 slots");
        for (var bucket = 0; bucket < Buckets; bucket++)
        {
            var count = Math.Max(1, _commitCount[bucket]);
            Console.Error.WriteLine(
                $"  {bucket * BucketMilliseconds,5}ms  {_commitCount[bucket],4}  {_commitWrites[bucket] / count,5}  {_commitSeconds[bucket] * 1000 / count,6:F1}  {_commitSeconds[bucket] / (2 * BucketMilliseconds / 1000.0),5:P0}");
        }
    }
}
