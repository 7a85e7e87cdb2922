using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Activations;
using Orchestration.Runtime.Clustering;

namespace Orchestration.Runtime.Streams;

/// <summary>
/// Delivers events to grains subscribed by <see cref="ImplicitStreamSubscriptionAttribute"/>: the event of stream
/// (namespace, key) goes to the subscribing grain with that key. In order per stream, streams in parallel; the
/// subscription's cursor is stored as events are delivered, so after a crash delivery resumes from it (at least once).
/// A failing delivery is retried with back-off and holds back only its own stream; after
/// <see cref="SiloOptions.StreamDeliveryMaxAttempts"/> attempts the event is parked (see <see cref="ParkedStreamEvent"/>),
/// reported, and its stream moves on. In a cluster one silo, the owner of the subscription's id, runs each subscription
/// and calls the grains wherever they live; a hand-over of that partition stops the run, waits until its last delivery
/// ended and its cursor is stored, and only then lets the next owner lead (see <see cref="SubscriptionLead"/>).
/// </summary>
internal sealed partial class ImplicitStreamDelivery(SiloRuntime runtime) : IAsyncDisposable
{
    /// <summary>The namespace of the stream that records parked events; its key is the subscriber.</summary>
    public const string ParkedNamespace = "$parked";

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly Lock _leadsGate = new();
    private readonly HashSet<SubscriptionLead> _leads = [];

    public void Start()
    {
        foreach (var grainClass in runtime.Registry.Classes)
        {
            foreach (var streamNamespace in grainClass.ImplicitSubscriptions)
            {
                var subscriber = $"implicit/{grainClass.TypeName}/{streamNamespace}";
                _loops.Add(Task.Run(() => RunAsync(grainClass, streamNamespace, subscriber, _stop.Token), CancellationToken.None));
            }
        }
    }

    private async Task RunAsync(GrainClassInfo grainClass, string streamNamespace, string subscriber, CancellationToken stop)
    {
        var leadership = new GrainId("stream-subscription", subscriber);
        var failedLeads = 0; // in a row
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var lead = TryLead(leadership, stop);
                if (lead is null)
                {
                    await Task.Delay(runtime.Options.EventPollInterval, runtime.TimeProvider, stop);
                    continue;
                }

                bool failed;
                try
                {
                    failed = await LeadAsync(lead, grainClass, streamNamespace, subscriber);
                }
                finally
                {
                    Forget(lead);
                }

                failedLeads = failed ? failedLeads + 1 : 0;
                if (failed)
                {
                    // Not at once: a failure that comes back would make a loop of re-reading the cursor and redelivering.
                    var delay = RetryDelay(failedLeads, runtime.Options.EventPollInterval, runtime.Options.StreamDeliveryMaxRetryDelay);
                    await Task.Delay(delay, runtime.TimeProvider, stop);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                LogSubscriptionFailed(runtime.Logger, subscriber, exception);
                await Task.Delay(runtime.Options.EventPollInterval, runtime.TimeProvider, stop).ContinueWith(static _ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>
    /// Runs the subscription from its stored cursor for as long as the lead lasts. Once it returns, no delivery of the
    /// run is in flight and its cursor is stored (unless storing failed: the next leader then delivers some again).
    /// True when a worker's failure ended it.
    /// </summary>
    private async Task<bool> LeadAsync(SubscriptionLead lead, GrainClassInfo grainClass, string streamNamespace, string subscriber)
    {
        ImplicitSubscriptionRun? run = null;
        try
        {
            var cursor = await runtime.Storage.ReadCursorAsync(subscriber, lead.Token);
            run = new ImplicitSubscriptionRun(runtime, grainClass, streamNamespace, subscriber, cursor, lead);
            await using var running = run;
            await foreach (var batch in runtime.StreamLog.FollowBatchesAsync(cursor, streamNamespace, tenant: null, lead.Token))
            {
                // Checked before each batch and by the workers before each delivery: a silo that lost the subscription
                // takes nothing more on (another silo leads it now and resumes from the stored cursor).
                if (!lead.IsLeading)
                {
                    break;
                }

                await run.AcceptAsync(batch, lead.Token);
            }
        }
        catch (OperationCanceledException) when (lead.Token.IsCancellationRequested)
        {
        }

        return run?.WorkerFailed ?? false;
    }

    /// <summary>
    /// A lead of the subscription when this silo should run it now, registered so a hand-over can stop it and wait for
    /// it; null otherwise. Registered first and checked after, as activations are: a drain that began meanwhile either
    /// sees the lead or is seen by the check.
    /// </summary>
    private SubscriptionLead? TryLead(GrainId leadership, CancellationToken stop)
    {
        PartitionLease? lease = null;
        Func<bool>? placedHere = null;
        if (runtime.Router is { LeasesOwnership: true } leased)
        {
            lease = leased.LeaseFor(leadership);
            if (lease is null)
            {
                return null;
            }
        }
        else if (runtime.Router is { } router)
        {
            placedHere = () => router.IsLocal(runtime, leadership);
        }

        var lead = new SubscriptionLead(lease, placedHere, runtime.TimeProvider, stop);
        lock (_leadsGate)
        {
            _leads.Add(lead);
        }

        Interlocked.MemoryBarrier();
        if (lead.IsLeading)
        {
            return lead;
        }

        Forget(lead);
        lead.Dispose();
        return null;
    }

    private void Forget(SubscriptionLead lead)
    {
        lock (_leadsGate)
        {
            _leads.Remove(lead);
        }
    }

    /// <summary>
    /// Stops the runs that lead under one of <paramref name="periods"/>, for a hand-over of their partitions; true once
    /// none is left, each having stored its cursor, so the next owner resumes after what they delivered. Called again
    /// until true: it also stops a run that began just before the periods stopped accepting.
    /// </summary>
    public bool StopLeads(IReadOnlySet<PartitionLease> periods)
    {
        List<SubscriptionLead> stopping;
        lock (_leadsGate)
        {
            stopping = [.. _leads.Where(lead => lead.Lease is { } lease && periods.Contains(lease))];
        }

        foreach (var lead in stopping)
        {
            _ = lead.StopAsync();
        }

        return stopping.Count == 0;
    }

    /// <summary>The wait after failed attempt <paramref name="attempt"/> (1-based): doubling from <paramref name="first"/>, capped.</summary>
    internal static TimeSpan RetryDelay(int attempt, TimeSpan first, TimeSpan max) =>
        TimeSpan.FromTicks((long)Math.Min(max.Ticks, first.Ticks * Math.Pow(2, attempt - 1)));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops);
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Stream subscription {Subscriber} failed; restarting from its stored cursor")]
    private static partial void LogSubscriptionFailed(ILogger logger, string subscriber, Exception exception);
}
