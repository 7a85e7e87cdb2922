using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Orchestration.Bench;

/// <summary>
/// Counts, from the runtime's own instruments, the grain calls, storage commits and writes between <see cref="Reset"/>
/// and <see cref="Snapshot"/>, and this process's CPU time: what one benchmark operation costs the runtime (for example
/// writes per task). On a shared machine CPU time per operation is steadier than the rate, and bytes allocated per
/// operation do not depend on the machine's load at all.
/// </summary>
public sealed class RuntimeCounters : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _calls;
    private long _commits;
    private long _writes;
    private TimeSpan _cpu;
    private long _allocated;

    public RuntimeCounters()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name is "orchestration.grain.calls" or "orchestration.storage.commit.batch_size")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "orchestration.grain.calls")
            {
                Interlocked.Add(ref _calls, value);
            }
            else
            {
                Interlocked.Increment(ref _commits);
                Interlocked.Add(ref _writes, value);
            }
        });
        _listener.Start();
    }

    public void Reset()
    {
        Interlocked.Exchange(ref _calls, 0);
        Interlocked.Exchange(ref _commits, 0);
        Interlocked.Exchange(ref _writes, 0);
        _cpu = Process.GetCurrentProcess().TotalProcessorTime;
        _allocated = GC.GetTotalAllocatedBytes();
    }

    /// <summary>The counts since the last <see cref="Reset"/>, each divided by <paramref name="operations"/>.</summary>
    public string Snapshot(long operations) =>
        $"per operation: {Interlocked.Read(ref _calls) / (double)operations:F2} grain calls, {Interlocked.Read(ref _writes) / (double)operations:F2} writes, "
        + $"{Interlocked.Read(ref _commits) / (double)operations:F3} commits (writes per commit {Interlocked.Read(ref _writes) / (double)Math.Max(1, Interlocked.Read(ref _commits)):F0}), "
        + $"{(Process.GetCurrentProcess().TotalProcessorTime - _cpu).TotalMilliseconds * 1000 / operations:F0} µs CPU in this process, "
        + $"{(GC.GetTotalAllocatedBytes() - _allocated) / 1024.0 / operations:F1} KiB allocated";

    public void Dispose() => _listener.Dispose();
}
