using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Orchestration.Runtime;

/// <summary>Settings of a silo. Every value has a default that suits production.</summary>
public sealed class SiloOptions
{
    /// <summary>This silo's id. Default: a new unique id per process.</summary>
    public string SiloId { get; set; } = $"silo-{Guid.NewGuid():N}"[..17];

    /// <summary>Where other processes reach this silo. Default: <c>in-process</c>.</summary>
    public string Address { get; set; } = "in-process";

    /// <summary>A call that does not complete within this time fails with <see cref="GrainCallTimeoutException"/>. Default 30 s.</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>An activation idle for longer than this is deactivated. Default 15 min.</summary>
    public TimeSpan IdleCollectionAge { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// How long <c>OnDeactivateAsync</c> may run. After that its token is cancelled and the activation is discarded anyway,
    /// so a hung grain cannot hold its registration (and its calls) for ever. Default 30 s.
    /// </summary>
    public TimeSpan DeactivationTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often activations are checked for timed-out calls and idleness. Default 1 s.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the event log is polled for commits of other processes (LISTEN/NOTIFY only hints). Default 1 s.</summary>
    public TimeSpan EventPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often reminders are reloaded from storage, to pick up changes made by other processes. Default 1 min.</summary>
    public TimeSpan ReminderReloadInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Calls one activation holds, running or waiting, at which a warning is logged (once per crossing). Default 1,000.
    /// </summary>
    public int MaxEnqueuedRequestsSoftLimit { get; set; } = 1_000;

    /// <summary>
    /// The most calls one activation holds, running or waiting: a call beyond it is rejected at once with
    /// <see cref="GrainOverloadedException"/> instead of piling up without bound. Running calls count, so a reentrant
    /// grain whose calls wait inside it (long-polls) is bounded too. <c>[AlwaysInterleave]</c> calls are counted apart
    /// against the same limit, so calls held open never lock out, say, a status read. Timer ticks do not count and are
    /// never rejected. Default 5,000: the task queue grain holds one call per waiting claim of its organisation.
    /// </summary>
    public int MaxEnqueuedRequestsHardLimit { get; set; } = 5_000;

    /// <summary>The most writes committed in one transaction. Default 2,048.</summary>
    public int MaxWriteBatchSize { get; set; } = 2048;

    /// <summary>
    /// Writes that may wait for the write batcher before submitting waits (asynchronously) for room: backpressure that
    /// keeps memory bounded when storage falls behind. Default 10,000.
    /// </summary>
    public int MaxPendingWrites { get; set; } = 10_000;

    /// <summary>
    /// Events buffered per live subscriber before it falls back to reading storage; for an implicit subscription, the
    /// events read but not yet delivered, of which one stream key buffers at most a quarter (the rest of its backlog is
    /// read again from the log). Default 10,000.
    /// </summary>
    public int SubscriberBufferSize { get; set; } = 10_000;

    /// <summary>
    /// JSON settings for grain state and stream items. Default: web defaults, resolving types by reflection; insert
    /// source-generated contexts at the front of <see cref="JsonSerializerOptions.TypeInfoResolverChain"/> to use them first.
    /// </summary>
    public JsonSerializerOptions Json { get; set; } = new(JsonSerializerDefaults.Web) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };

    internal IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(SiloId))
        {
            yield return "SiloId must not be empty.";
        }

        if (ResponseTimeout <= TimeSpan.Zero)
        {
            yield return "ResponseTimeout must be positive.";
        }

        if (IdleCollectionAge <= TimeSpan.Zero)
        {
            yield return "IdleCollectionAge must be positive.";
        }

        if (DeactivationTimeout <= TimeSpan.Zero)
        {
            yield return "DeactivationTimeout must be positive.";
        }

        if (SweepInterval <= TimeSpan.Zero)
        {
            yield return "SweepInterval must be positive.";
        }

        if (EventPollInterval <= TimeSpan.Zero)
        {
            yield return "EventPollInterval must be positive.";
        }

        if (ReminderReloadInterval <= TimeSpan.Zero)
        {
            yield return "ReminderReloadInterval must be positive.";
        }

        if (MaxEnqueuedRequestsSoftLimit < 1 || MaxEnqueuedRequestsHardLimit < 1)
        {
            yield return "MaxEnqueuedRequestsSoftLimit and MaxEnqueuedRequestsHardLimit must be at least 1.";
        }
        else if (MaxEnqueuedRequestsSoftLimit > MaxEnqueuedRequestsHardLimit)
        {
            yield return "MaxEnqueuedRequestsSoftLimit must not exceed MaxEnqueuedRequestsHardLimit.";
        }

        if (MaxWriteBatchSize < 1)
        {
            yield return "MaxWriteBatchSize must be at least 1.";
        }

        if (MaxPendingWrites < 1)
        {
            yield return "MaxPendingWrites must be at least 1.";
        }

        if (SubscriberBufferSize < 16)
        {
            yield return "SubscriberBufferSize must be at least 16.";
        }

        foreach (var error in ValidateStreamOptions())
        {
            yield return error;
        }
    }

    /// <summary>
    /// How long a hint about new events waits while commits of this process are in flight (their events arrive without
    /// reading storage) before the event log is read anyway. Bounds how long a slow or stuck local commit can delay
    /// other processes' events. Default 200 ms.
    /// </summary>
    public TimeSpan EventHintGracePeriod { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How many times an implicit subscription tries to deliver one event to its grain before parking it (recording it
    /// on the <c>$parked</c> stream) and moving on to the stream's next event. Default 10.
    /// </summary>
    public int StreamDeliveryMaxAttempts { get; set; } = 10;

    /// <summary>The wait before the second delivery attempt; each further wait doubles. Default 100 ms.</summary>
    public TimeSpan StreamDeliveryRetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait between two delivery attempts. Default 30 s.</summary>
    public TimeSpan StreamDeliveryMaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    private IEnumerable<string> ValidateStreamOptions()
    {
        if (EventHintGracePeriod < TimeSpan.Zero)
        {
            yield return "EventHintGracePeriod must not be negative.";
        }

        if (StreamDeliveryMaxAttempts < 1)
        {
            yield return "StreamDeliveryMaxAttempts must be at least 1.";
        }

        if (StreamDeliveryRetryDelay < TimeSpan.Zero)
        {
            yield return "StreamDeliveryRetryDelay must not be negative.";
        }

        if (StreamDeliveryMaxRetryDelay < StreamDeliveryRetryDelay)
        {
            yield return "StreamDeliveryMaxRetryDelay must not be shorter than StreamDeliveryRetryDelay.";
        }
    }
}
