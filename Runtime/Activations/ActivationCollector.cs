namespace Orchestration.Runtime.Activations;

/// <summary>
/// Walks the activations every sweep interval: fails calls past the response timeout and deactivates activations idle
/// past the collection age. One walk serves both, so a call costs nothing extra for its timeout.
/// </summary>
internal sealed class ActivationCollector(SiloRuntime runtime) : IAsyncDisposable
{
    private ITimer? _timer;
    private int _sweeping;
    private long _walks;

    /// <summary>Walks finished so far: a walk stuck behind an activation would stop this count (tests watch it).</summary>
    public long CompletedWalks => Interlocked.Read(ref _walks);

    public void Start()
    {
        var interval = runtime.Options.SweepInterval;
        _timer = runtime.TimeProvider.CreateTimer(static state => ((ActivationCollector)state!).Sweep(), this, interval, interval);
    }

    public void Sweep()
    {
        if (Interlocked.Exchange(ref _sweeping, 1) == 1)
        {
            return; // the previous walk is still going
        }

        try
        {
            var now = runtime.TimeProvider.GetTimestamp();
            var options = runtime.Options;
            foreach (var activation in runtime.Directory.All)
            {
                activation.Sweep(now, options.ResponseTimeout, options.IdleCollectionAge);
            }
        }
        finally
        {
            Interlocked.Increment(ref _walks);
            Volatile.Write(ref _sweeping, 0);
        }
    }

    public ValueTask DisposeAsync() => _timer?.DisposeAsync() ?? ValueTask.CompletedTask;
}
