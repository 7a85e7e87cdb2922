using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Features;
using Orchestration.Api.Contracts;
using Orchestration.Api.Extensions;
using Orchestration.Runtime.Streams;

namespace Orchestration.Api.Events;

/// <summary>
/// Serves one Server-Sent Events client. A producer follows the log into a bounded buffer; this writer drains it,
/// flushing after each batch and sending a <c>:</c> comment when idle. A client too slow to keep the buffer from
/// filling gets a final <c>event: reconnect</c> naming the last id it was sent, and the stream ends, so it resumes
/// with <c>Last-Event-ID</c> and misses nothing.
/// </summary>
internal sealed class EventStreamWriter(IStreamLog log, TimeProvider timeProvider, ApiOptions options)
{
    private const int BatchSize = 256;

    public async Task WriteAsync(HttpContext context, string orgId, long after, EventFilter filter)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.WriteAsync(": stream\n\n", context.RequestAborted);
        await response.Body.FlushAsync(context.RequestAborted);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var buffer = Channel.CreateBounded<SseFrame>(new BoundedChannelOptions(options.SseBufferSize) { SingleReader = true, SingleWriter = true });
        var overflowed = false;
        var producer = Task.Run(async () =>
        {
            try
            {
                await foreach (var entry in log.FollowAsync(after, null, orgId, stop.Token))
                {
                    if (SseFrame.For(entry, orgId) is { } frame && filter.Matches(frame.Item) && !buffer.Writer.TryWrite(frame))
                    {
                        overflowed = true;
                        break;
                    }
                }

                buffer.Writer.TryComplete();
            }
            catch (Exception exception)
            {
                buffer.Writer.TryComplete(exception is OperationCanceledException ? null : exception);
            }
        }, CancellationToken.None);

        var lastId = after;
        try
        {
            lastId = await DrainAsync(response, buffer.Reader, lastId, stop.Token);
            if (Volatile.Read(ref overflowed))
            {
                var data = $"{{\"lastEventId\":{lastId.ToString(CultureInfo.InvariantCulture)}}}";
                await response.WriteAsync($"id: {lastId}\nevent: reconnect\ndata: {data}\n\n", stop.Token);
                await response.Body.FlushAsync(stop.Token);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        finally
        {
            await stop.CancelAsync();
            await producer;
        }
    }

    private async Task<long> DrainAsync(HttpResponse response, ChannelReader<SseFrame> reader, long lastId, CancellationToken cancellationToken)
    {
        var waiting = reader.WaitToReadAsync(cancellationToken).AsTask();
        while (true)
        {
            if (!waiting.IsCompleted)
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var heartbeat = Task.Delay(options.SseHeartbeatInterval, timeProvider, idle.Token);
                if (await Task.WhenAny(waiting, heartbeat) == heartbeat)
                {
                    await response.WriteAsync(":\n\n", cancellationToken);
                    await response.Body.FlushAsync(cancellationToken);
                    continue;
                }

                await idle.CancelAsync();
            }

            if (!await waiting)
            {
                return lastId; // the producer ended (overflow, or the log closed)
            }

            var count = 0;
            while (count < BatchSize && reader.TryRead(out var frame))
            {
                response.BodyWriter.Write(frame.Bytes.Span);
                lastId = frame.Item.Sequence;
                count++;
            }

            await response.BodyWriter.FlushAsync(cancellationToken);
            waiting = reader.WaitToReadAsync(cancellationToken).AsTask();
        }
    }
}

/// <summary>
/// One event as every stream of its organisation sends it: the envelope (for the filters) and the whole frame
/// (<c>id:</c>, <c>event:</c>, <c>data:</c>) in UTF-8. Live events reach every follower as the same <see cref="StreamEvent"/>,
/// so the envelope is read and the frame written once per event, not once per client.
/// </summary>
internal sealed class SseFrame
{
    private static readonly ConditionalWeakTable<StreamEvent, SseFrame> s_frames = new();

    private SseFrame(ApiEvent item, string orgId)
    {
        Item = item;
        OrgId = orgId;
        Bytes = Encoding.UTF8.GetBytes(
            $"id: {item.Sequence.ToString(CultureInfo.InvariantCulture)}\nevent: {item.Type}\ndata: {JsonSerializer.Serialize(item, ApiJsonContext.Default.ApiEvent)}\n\n");
    }

    public ApiEvent Item { get; }

    public ReadOnlyMemory<byte> Bytes { get; }

    private string OrgId { get; }

    /// <summary>The frame of <paramref name="entry"/> for <paramref name="orgId"/>; <c>null</c> when it is no event of that organisation.</summary>
    public static SseFrame? For(StreamEvent entry, string orgId)
    {
        if (s_frames.TryGetValue(entry, out var cached) && string.Equals(cached.OrgId, orgId, StringComparison.Ordinal))
        {
            return cached;
        }

        if (ApiEvents.From(entry, orgId) is not { } item)
        {
            return null;
        }

        var frame = new SseFrame(item, orgId);
        s_frames.AddOrUpdate(entry, frame);
        return frame;
    }
}
