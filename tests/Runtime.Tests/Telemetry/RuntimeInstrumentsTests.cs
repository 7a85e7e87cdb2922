using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Telemetry;

public sealed class RuntimeInstrumentsTests
{
    [Fact]
    public async Task Call_WithListeners_RecordsAnActivityAndCallMetricsTaggedWithGrainAndMethod()
    {
        var activities = new ConcurrentQueue<Activity>();
        using var activityListener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == RuntimeInstruments.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activities.Enqueue,
        };
        ActivitySource.AddActivityListener(activityListener);
        var calls = new ConcurrentQueue<(string Instrument, string? Method)>();
        using var meterListener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == RuntimeInstruments.Name)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        meterListener.SetMeasurementEventCallback<long>((instrument, _, tags, _) => calls.Enqueue((instrument.Name, Method(tags))));
        meterListener.SetMeasurementEventCallback<double>((instrument, _, tags, _) => calls.Enqueue((instrument.Name, Method(tags))));
        meterListener.Start();
        await using var cluster = await TestClusterFactory.StartAsync(new GrainProbe());

        await cluster.GrainFactory.GetGrain<IFaultyGrain>("traced").EchoAsync("hi");
        await Assert.ThrowsAsync<InvalidOperationException>(() => cluster.GrainFactory.GetGrain<IFaultyGrain>("traced").ThrowAfterAwaitAsync("x"));

        // Other tests run in parallel and trace their own calls: look only at this grain's.
        var traced = activities.Where(activity => (string?)activity.GetTagItem("orchestration.grain.key") == "traced").ToList();
        var echo = Assert.Single(traced, activity => activity.DisplayName == "IFaultyGrain.EchoAsync");
        Assert.Equal("faulty", echo.GetTagItem("orchestration.grain.type"));
        Assert.Equal(ActivityStatusCode.Error, Assert.Single(traced, a => a.DisplayName == "IFaultyGrain.ThrowAfterAwaitAsync").Status);
        Assert.Contains(("orchestration.grain.calls", "IFaultyGrain.EchoAsync"), calls);
        Assert.Contains(("orchestration.grain.call.duration", "IFaultyGrain.EchoAsync"), calls);
        Assert.Contains(("orchestration.grain.calls.failed", "IFaultyGrain.ThrowAfterAwaitAsync"), calls);
        Assert.Contains(calls, measurement => measurement.Instrument == "orchestration.grain.activations");
    }

    [Fact]
    public async Task Call_MadeInsideAGrainCall_IsAChildSpanOfThatCall()
    {
        using var testSource = new ActivitySource("Orchestration.Runtime.Tests.Tracing");
        var activities = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == RuntimeInstruments.Name || source.Name == testSource.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activities.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var cluster = await TestClusterFactory.StartAsync(new GrainProbe());

        using (var root = testSource.StartActivity("test-root"))
        {
            await cluster.GrainFactory.GetGrain<ITracedGrain>("trace-a").CallAsync("trace-b");
        }

        var testRoot = Assert.Single(activities, activity => activity.DisplayName == "test-root");
        var outer = Assert.Single(activities, activity => (string?)activity.GetTagItem("orchestration.grain.key") == "trace-a");
        var inner = Assert.Single(activities, activity => (string?)activity.GetTagItem("orchestration.grain.key") == "trace-b");
        Assert.Equal(testRoot.TraceId, outer.TraceId);
        Assert.Equal(testRoot.SpanId, outer.ParentSpanId);
        Assert.Equal(outer.TraceId, inner.TraceId);
        Assert.Equal(outer.SpanId, inner.ParentSpanId);
    }

    [Fact]
    public async Task Call_NobodyListening_StillCarriesTheCallersTraceToEveryGrainItReaches()
    {
        await using var cluster = await TestClusterFactory.StartAsync(new GrainProbe());
        using var root = new Activity("request").Start(); // as ASP.NET Core starts one per request, listened to or not

        var seen = await cluster.GrainFactory.GetGrain<ITracedGrain>("untraced-a").CallAsync("untraced-b");

        Assert.Equal(root.TraceId.ToHexString(), seen);
    }

    private static string? Method(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == "grain.method")
            {
                return tag.Value as string;
            }
        }

        return null;
    }
}
