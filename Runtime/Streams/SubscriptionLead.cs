using Orchestration.Runtime.Clustering;

namespace Orchestration.Runtime.Streams;

/// <summary>
/// One spell of this silo running an implicit subscription. In a cluster with leases it lasts at most as long as the
/// lease period of the subscription's partition that it began in: the period's drain or discard stops it, and every
/// delivery first checks the period still accepts work, so no delivery starts once another silo may lead. Without
/// leases it lasts while the router places the subscription here; without a cluster, until the silo stops.
/// </summary>
internal sealed class SubscriptionLead : IDisposable
{
    // Never disposed: it has no timer and no linked parent, so it holds nothing; Stop may then come at any time.
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenRegistration _silo;
    private readonly Func<bool>? _placedHere;
    private readonly TimeProvider _time;

    /// <param name="lease">The lease period the lead began in; null where ownership is not leased.</param>
    /// <param name="placedHere">Asked instead of the lease when there is none; null: always (no cluster).</param>
    /// <param name="time">The clock the lease's deadline is on.</param>
    /// <param name="silo">Cancelled when the silo stops delivering altogether.</param>
    public SubscriptionLead(PartitionLease? lease, Func<bool>? placedHere, TimeProvider time, CancellationToken silo)
    {
        Lease = lease;
        _placedHere = placedHere;
        _time = time;
        _silo = silo.Register(static state => ((CancellationTokenSource)state!).Cancel(), _stop);
    }

    public PartitionLease? Lease { get; }

    /// <summary>Cancelled once the lead is over: its run takes nothing more on and its workers stop.</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>Whether a delivery may still start: not stopped, and the period (or the placement) is still this silo's.</summary>
    public bool IsLeading =>
        !_stop.IsCancellationRequested && (Lease is { } lease ? lease.IsAccepting(_time.GetTimestamp()) : _placedHere?.Invoke() ?? true);

    /// <summary>Ends the lead now (callbacks run inline); used by a worker that found it no longer leads.</summary>
    public void Stop() => _stop.Cancel();

    /// <summary>Ends the lead, running the cancellation's callbacks elsewhere (the caller may be a lease round).</summary>
    public Task StopAsync() => _stop.CancelAsync();

    public void Dispose() => _silo.Dispose();
}
