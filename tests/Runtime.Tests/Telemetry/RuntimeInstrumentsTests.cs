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
