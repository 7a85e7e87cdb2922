using System.Diagnostics;
using System.Diagnostics.Metrics;
using Orchestration.Runtime.Calls;

namespace Orchestration.Runtime;

/// <summary>
/// The runtime's traces and metrics: an <see cref="Activity"/> per grain call (when someone listens) and counters for
/// calls, call duration, activations, queued turns, commits and parked stream events. Names are stable; dashboards depend on them.
/// </summary>
internal sealed class RuntimeInstruments : IDisposable
{
    /// <summary>The ActivitySource and Meter name.</summary>
    public const string Name = "Orchestration.Runtime";

    private static readonly ActivitySource s_activitySource = new(Name);

    private readonly Meter _meter;
    private readonly Counter<long> _calls;
    private readonly Counter<long> _failedCalls;
    private readonly Histogram<double> _callDuration;
    private readonly UpDownCounter<long> _activations;
    private readonly Histogram<long> _commitBatchSize;
    private readonly Histogram<double> _commitDuration;
    private readonly Counter<long> _streamEventsParked;
    private readonly Counter<long> _writesFenced;
    private long _fencedWrites;

    public RuntimeInstruments(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(Name) ?? new Meter(Name);
        _calls = _meter.CreateCounter<long>("orchestration.grain.calls", description: "Grain calls completed.");
        _failedCalls = _meter.CreateCounter<long>("orchestration.grain.calls.failed", description: "Grain calls that threw.");
        _callDuration = _meter.CreateHistogram<double>("orchestration.grain.call.duration", unit: "s", description: "Time a grain call ran on its activation.");
        _activations = _meter.CreateUpDownCounter<long>("orchestration.grain.activations", description: "Live activations.");
        _commitBatchSize = _meter.CreateHistogram<long>("orchestration.storage.commit.batch_size", description: "Writes per storage transaction.");
        _commitDuration = _meter.CreateHistogram<double>("orchestration.storage.commit.duration", unit: "s", description: "Time a storage transaction took.");
        _streamEventsParked = _meter.CreateCounter<long>("orchestration.streams.parked", description: "Stream events an implicit subscription gave up delivering after its retries.");
        _writesFenced = _meter.CreateCounter<long>("orchestration.storage.writes.fenced", description: "Writes refused because the silo no longer owned the grain's partition.");
    }

    /// <summary>Writes refused so far because their partition lease had ended (here or in the database).</summary>
    public long FencedWrites => Interlocked.Read(ref _fencedWrites);

    /// <summary>Reports the messages waiting in activation queues; set once by the runtime.</summary>
    public void ObserveQueuedTurns(Func<long> queuedTurns) =>
        _meter.CreateObservableGauge("orchestration.grain.queued_turns", queuedTurns, description: "Calls waiting for their activation.");

    /// <summary>
    /// Starts the span of one call as a child of <paramref name="caller"/> (the span that sent it): the turn runs on the
    /// activation's own loop, where the caller's ambient span does not flow.
    /// </summary>
    public static Activity? StartCall(GrainId grainId, GrainMethod method, Activity? caller)
    {
        var activity = StartChild(method.Name, ActivityKind.Internal, caller?.Context ?? default);
        if (activity is not null && s_activitySource.HasListeners())
        {
            activity.SetTag("orchestration.grain.type", grainId.Type);
            activity.SetTag("orchestration.grain.key", grainId.Key);
            activity.SetTag("orchestration.grain.method", method.Name);
        }

        return activity;
    }

    /// <summary>
    /// Starts a span of the runtime's work for <paramref name="parent"/> and makes it current. When nobody listens to the
    /// runtime's traces, a caller's trace still flows: a bare activity (never exported) carries its ids, so the events and
    /// logs of the call name the trace of the request that caused it. Without a caller and a listener, nothing is started.
    /// </summary>
    public static Activity? StartChild(string name, ActivityKind kind, ActivityContext parent)
    {
        if (s_activitySource.HasListeners())
        {
            return s_activitySource.StartActivity(name, kind, parent);
        }

        if (parent == default)
        {
            return null;
        }

        var activity = new Activity(name);
        activity.SetParentId(parent.TraceId, parent.SpanId, parent.TraceFlags);
        return activity.Start();
    }

    /// <summary>Whether anyone listens to call metrics; when not, the hot path skips timing altogether.</summary>
    public bool CallsObserved => _calls.Enabled || _callDuration.Enabled || _failedCalls.Enabled;

    public void RecordCall(string grainType, string method, TimeSpan duration, bool failed)
    {
        var grainTag = new KeyValuePair<string, object?>("grain.type", grainType);
        var methodTag = new KeyValuePair<string, object?>("grain.method", method);
        _calls.Add(1, grainTag, methodTag);
        _callDuration.Record(duration.TotalSeconds, grainTag, methodTag);
        if (failed)
        {
            _failedCalls.Add(1, grainTag, methodTag);
        }
    }

    public void ActivationCreated(string grainType) => _activations.Add(1, new KeyValuePair<string, object?>("grain.type", grainType));

    public void ActivationRemoved(string grainType) => _activations.Add(-1, new KeyValuePair<string, object?>("grain.type", grainType));

    public void RecordCommit(int batchSize, TimeSpan duration)
    {
        _commitBatchSize.Record(batchSize);
        _commitDuration.Record(duration.TotalSeconds);
    }

    public void WriteFenced()
    {
        Interlocked.Increment(ref _fencedWrites);
        _writesFenced.Add(1);
    }

    public void StreamEventParked(string subscriber, string grainType) =>
        _streamEventsParked.Add(
            1,
            new KeyValuePair<string, object?>("stream.subscriber", subscriber),
            new KeyValuePair<string, object?>("grain.type", grainType));

    public void Dispose() => _meter.Dispose();
}
