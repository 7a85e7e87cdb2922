using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Core;

namespace Orchestration.Runtime.Streams;

/// <summary>
/// Delivers events to grains subscribed by <see cref="ImplicitStreamSubscriptionAttribute"/>: the event of stream
/// (namespace, key) goes to the subscribing grain with that key. In order per stream, streams in parallel; the
/// subscription's cursor is stored after each batch, so after a crash delivery resumes from it (at least once).
/// A failing delivery is retried with back-off and holds back only its own stream. In a cluster one silo, the owner of
/// the subscription's id, runs each subscription and calls the grains wherever they live.
/// </summary>
internal sealed partial class ImplicitStreamDelivery(SiloRuntime runtime) : IAsyncDisposable
{
    private static readonly TimeSpan s_maxRetryDelay = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];

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
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (runtime.Router is { } router && !router.IsLocal(runtime, leadership))
                {
                    await Task.Delay(runtime.Options.EventPollInterval, runtime.TimeProvider, stop);
                    continue;
                }

                var cursor = await runtime.Storage.ReadCursorAsync(subscriber, stop);
                await foreach (var batch in runtime.StreamLog.FollowBatchesAsync(cursor, streamNamespace, stop))
                {
                    if (batch.Count == 0)
                    {
                        continue;
                    }

                    await Task.WhenAll(batch
                        .GroupBy(streamEvent => streamEvent.StreamId.Key)
                        .Select(stream => DeliverInOrderAsync(grainClass, stream.Key, stream, stop)));
                    await runtime.Storage.WriteCursorAsync(subscriber, batch[^1].Sequence, stop);
                    if (runtime.Router is { } current && !current.IsLocal(runtime, leadership))
                    {
                        break; // another silo owns this subscription now; it resumes from the stored cursor
                    }
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

    private async Task DeliverInOrderAsync(GrainClassInfo grainClass, string key, IEnumerable<StreamEvent> events, CancellationToken stop)
    {
        var consumer = runtime.GrainFactory.GetGrain<IStreamConsumerGrain>(new GrainId(grainClass.TypeName, key));
        foreach (var streamEvent in events)
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await consumer.OnStreamEventAsync(streamEvent);
                    break;
                }
                catch (Exception exception) when (!stop.IsCancellationRequested)
                {
                    var delay = TimeSpan.FromMilliseconds(Math.Min(s_maxRetryDelay.TotalMilliseconds, 100 * Math.Pow(2, attempt)));
                    LogDeliveryFailed(runtime.Logger, streamEvent.Sequence, grainClass.TypeName, key, attempt, delay, exception);
                    await Task.Delay(delay, runtime.TimeProvider, stop);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops);
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Stream subscription {Subscriber} failed; restarting from its stored cursor")]
    private static partial void LogSubscriptionFailed(ILogger logger, string subscriber, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Delivering event {Sequence} to {GrainType}/{Key} failed (attempt {Attempt}); retrying in {Delay}")]
    private static partial void LogDeliveryFailed(ILogger logger, long sequence, string grainType, string key, int attempt, TimeSpan delay, Exception exception);
}
