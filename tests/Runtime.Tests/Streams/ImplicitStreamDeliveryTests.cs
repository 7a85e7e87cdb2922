using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Streams;

/// <summary>Implicit subscriptions under failing consumers: retries on the fake clock, parking, and streams that keep flowing.</summary>
public sealed class ImplicitStreamDeliveryTests : IAsyncLifetime
{
    private const string Subscriber = "implicit/parkingconsumer/parking";

    private readonly GrainProbe _probe = new();
    private readonly ManualTimeProvider _clock = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestClusterFactory.StartAsync(_probe, timeProvider: _clock, options: options =>
    {
        options.StreamDeliveryMaxAttempts = 3;
        options.StreamDeliveryRetryDelay = TimeSpan.FromSeconds(10);
        options.StreamDeliveryMaxRetryDelay = TimeSpan.FromSeconds(20);
    });

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Delivery_ConsumerAlwaysThrows_HoldsBackOnlyItsOwnStreamThenParksTheEventAndMovesOn()
    {
        var parked = 0L;
        using var meterListener = ListenToParkedCounter(increment => Interlocked.Add(ref parked, increment));
        await PublishAsync("poison", "p1");
        await PublishAsync("good", "g1");
        await _probe.WaitForAsync("parking:poison:p1");
        await _probe.WaitForAsync("parking:good:g1");
        // A later batch: it must not wait for p1's retries, which wait for the fake clock.
        await PublishAsync("good", "g2");
        await _probe.WaitForAsync("parking:good:g2");
        Assert.Equal(0, await ReadCursorAsync());

        await Eventually.TrueAsync(() =>
        {
            if (_probe.Count("parking:poison:p1") < 3)
            {
                _clock.Advance(TimeSpan.FromSeconds(1));
            }

            return Task.FromResult(_probe.Count("parking:poison:p1") == 3);
        });
        var log = _cluster.Silos[0].Services.GetRequiredService<IStreamLog>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var parkedEvents = log.FollowAsync(0, ImplicitStreamDelivery.ParkedNamespace, cancellationToken: stop.Token).GetAsyncEnumerator(stop.Token);
        Assert.True(await parkedEvents.MoveNextAsync());

        var record = JsonDocument.Parse(parkedEvents.Current.Data).RootElement;
        Assert.Equal(Subscriber, parkedEvents.Current.StreamId.Key);
        Assert.Equal(1, record.GetProperty("sequence").GetInt64());
        Assert.Equal("poison", record.GetProperty("key").GetString());
        Assert.Equal(3, record.GetProperty("attempts").GetInt32());
        Assert.Contains("poison", record.GetProperty("error").GetString());
        Assert.Equal(3, _probe.Count("parking:poison:p1"));
        Assert.Equal(1, Interlocked.Read(ref parked));

        await PublishAsync("poison", "p2");
        await _probe.WaitForAsync("parking:poison:p2");
        await Eventually.TrueAsync(async () => await ReadCursorAsync() >= 3, "the cursor moves past the parked event");
    }

    [Theory]
    [InlineData(1, 100)]
    [InlineData(2, 200)]
    [InlineData(4, 800)]
    [InlineData(40, 30_000)]
    public void RetryDelay_AfterAnAttempt_DoublesFromTheFirstDelayUpToTheMaximum(int attempt, int expectedMilliseconds) =>
        Assert.Equal(
            TimeSpan.FromMilliseconds(expectedMilliseconds),
            ImplicitStreamDelivery.RetryDelay(attempt, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30)));

    private Task PublishAsync(string key, string item) =>
        _cluster.Silos[0].Services.GetRequiredService<IStreamProvider>().GetStream<string>(new StreamId("parking", key)).OnNextAsync(item);

    private Task<long> ReadCursorAsync() => _cluster.Silos[0].Runtime.Storage.ReadCursorAsync(Subscriber, CancellationToken.None);

    private static MeterListener ListenToParkedCounter(Action<long> onParked)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, meterListener) =>
            {
                if (instrument.Meter.Name == RuntimeInstruments.Name && instrument.Name == "orchestration.streams.parked")
                {
                    meterListener.EnableMeasurementEvents(instrument);
                }
            },
        };
        // Other tests run in parallel: count only this subscription's parked events.
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "stream.subscriber" && (string?)tag.Value == Subscriber)
                {
                    onParked(value);
                }
            }
        });
        listener.Start();
        return listener;
    }
}
