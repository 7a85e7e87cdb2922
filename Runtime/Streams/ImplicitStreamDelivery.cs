using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Activations;

namespace Orchestration.Runtime.Streams;

/// <summary>
/// Delivers events to grains subscribed by <see cref="ImplicitStreamSubscriptionAttribute"/>: the event of stream
/// (namespace, key) goes to the subscribing grain with that key. In order per stream, streams in parallel; the
/// subscription's cursor is stored as events are delivered, so after a crash delivery resumes from it (at least once).
/// A failing delivery is retried with back-off and holds back only its own stream; after
/// <see cref="SiloOptions.StreamDeliveryMaxAttempts"/> attempts the event is parked (see <see cref="ParkedStreamEvent"/>),
/// reported, and its stream moves on. In a cluster one silo, the owner of the subscription's id, runs each subscription
/// and calls the grains wherever they live.
/// </summary>
internal sealed partial class ImplicitStreamDelivery(SiloRuntime runtime) : IAsyncDisposable
{
    /// <summary>The namespace of the stream that records parked events; its key is the subscriber.</summary>
    public const string ParkedNamespace = "$parked";

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
                await using var run = new ImplicitSubscriptionRun(runtime, grainClass, streamNamespace, subscriber, cursor, stop);
                await foreach (var batch in runtime.StreamLog.FollowBatchesAsync(cursor, streamNamespace, tenant: null, stop))
                {
                    // Checked before each batch, not after: a silo that lost the subscription takes nothing more on
                    // (another silo owns it now and resumes from the stored cursor).
                    if (runtime.Router is { } current && !current.IsLocal(runtime, leadership))
                    {
                        break;
                    }

                    await run.AcceptAsync(batch, stop);
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
