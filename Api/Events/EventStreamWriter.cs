using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Orchestration.Api.Contracts;
using Orchestration.Api.Extensions;
using Orchestration.Runtime.Streams;

namespace Orchestration.Api.Events;

/// <summary>
/// Serves one Server-Sent Events client: follows the log in batches, writes each batch's frames and flushes once per
/// batch, and sends a <c>:</c> comment when idle. The log holds at most <see cref="ApiOptions.SseBufferSize"/> events for
/// a client that does not keep up; when it would hold more, or the log cannot be read, the stream ends with an
/// <c>event: reconnect</c> whose id is the newest event the client was sent or its filter passed over, so the client
/// resumes with <c>Last-Event-ID</c> and misses nothing it asked for. The caller's key is checked again every
/// <see cref="ApiOptions.SseKeyCheckInterval"/>: the stream of a revoked key ends (with no reconnect frame), as the key's
/// next request would be refused; a check that fails ends it with a reconnect frame, so the key is checked as it does.
/// </summary>
/// <remarks>
/// The client's own loop reads the log's live buffer directly: no task and no second buffer in between, so a commit
/// wakes one task per client, not two.
/// </remarks>
internal sealed partial class EventStreamWriter(IStreamLog log, TimeProvider timeProvider, ApiOptions options, ILogger logger)
{
    private const int KeyValid = 0, KeyRevoked = 1, KeyCheckFailed = 2;

    public async Task WriteAsync(HttpContext context, string orgId, long after, EventFilter filter, Func<Task<bool>> keyStillValid)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.WriteAsync(": stream\n\n", context.RequestAborted);
        await response.Body.FlushAsync(context.RequestAborted);

        using var keyEnded = new CancellationTokenSource();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, keyEnded.Token);
        var key = KeyValid;
        var checking = 0;
        await using var keyCheck = timeProvider.CreateTimer(
            _ => _ = CheckKeyAsync(), null, options.SseKeyCheckInterval, options.SseKeyCheckInterval);
        var batches = log.FollowUntilBehindAsync(after, null, orgId, options.SseBufferSize, stop.Token).GetAsyncEnumerator(stop.Token);
        var next = batches.MoveNextAsync().AsTask();
        // One timer per heartbeat interval, not one per wait: a commit wakes every client, so waits are many and short.
        var lastWrite = timeProvider.GetTimestamp();
        var heartbeat = Task.Delay(options.SseHeartbeatInterval, timeProvider, stop.Token);
        // Where the client resumes: the newest event it was given or that its filter passed over. Resuming from the last
        // event sent instead would make a narrow filter replay everything it skipped, and fall behind again doing so.
        var resumeAfter = after;
        try
        {
            while (true)
            {
                if (heartbeat.IsCompleted || (!next.IsCompleted && await Task.WhenAny(next, heartbeat) == heartbeat))
                {
                    stop.Token.ThrowIfCancellationRequested();
                    var idle = timeProvider.GetElapsedTime(lastWrite);
                    if (idle >= options.SseHeartbeatInterval)
                    {
                        await response.WriteAsync(":\n\n", context.RequestAborted);
                        await response.Body.FlushAsync(context.RequestAborted);
                        lastWrite = timeProvider.GetTimestamp();
                        idle = TimeSpan.Zero;
                    }

                    heartbeat = Task.Delay(options.SseHeartbeatInterval - idle, timeProvider, stop.Token);
                    continue;
                }

                if (!await NextOrEndAsync(next))
                {
                    break; // behind by more than its buffer, or the log could not be read: the client resumes
                }

                var wrote = false;
                foreach (var entry in batches.Current)
                {
                    if (SseFrame.For(entry, orgId) is { } frame && filter.Matches(frame.Item))
                    {
                        response.BodyWriter.Write(frame.Bytes.Span);
                        wrote = true;
                    }

                    resumeAfter = entry.Sequence;
                }

                if (wrote)
                {
                    await response.BodyWriter.FlushAsync(context.RequestAborted);
                    lastWrite = timeProvider.GetTimestamp();
                }

                next = batches.MoveNextAsync().AsTask();
            }

            await WriteReconnectAsync(context, resumeAfter);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (OperationCanceledException) when (keyEnded.IsCancellationRequested)
        {
            if (Volatile.Read(ref key) == KeyCheckFailed && !context.RequestAborted.IsCancellationRequested)
            {
                try
                {
                    await WriteReconnectAsync(context, resumeAfter);
                }
                catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
                {
                    // The client went away meanwhile.
                }
            }
        }
        finally
        {
            // An async iterator cannot be disposed while a MoveNextAsync is pending: cancel it and let it finish first
            // (its error, if any, was reported or no longer matters: the client is gone).
            await stop.CancelAsync();
            await next.ContinueWith(static task => _ = task.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            await batches.DisposeAsync();
        }

        // On the timer's thread, never two at once; ends the stream through keyEnded once the key is revoked or cannot be checked.
        async Task CheckKeyAsync()
        {
            if (Interlocked.Exchange(ref checking, 1) == 1)
            {
                return;
            }

            int verdict;
            try
            {
                verdict = await keyStillValid() ? KeyValid : KeyRevoked;
            }
            catch (Exception exception)
            {
                LogKeyCheckFailed(logger, exception);
                verdict = KeyCheckFailed;
            }
            finally
            {
                Volatile.Write(ref checking, 0);
            }

            if (verdict != KeyValid)
            {
                Volatile.Write(ref key, verdict);
                try
                {
                    keyEnded.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The stream ended while the check was on its way.
                }
            }
        }
    }

    private static async Task WriteReconnectAsync(HttpContext context, long resumeAfter)
    {
        var data = $"{{\"lastEventId\":{resumeAfter.ToString(CultureInfo.InvariantCulture)}}}";
        await context.Response.WriteAsync($"id: {resumeAfter}\nevent: reconnect\ndata: {data}\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    /// <summary>The next batch's outcome; a failure to read the log ends the stream like falling behind, logged.</summary>
    private async Task<bool> NextOrEndAsync(Task<bool> next)
    {
        try
        {
            return await next;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogFollowFailed(logger, exception);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Following the event log for a stream client failed; the client is told to reconnect")]
    private static partial void LogFollowFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checking a stream client's key failed; the client is told to reconnect")]
    private static partial void LogKeyCheckFailed(ILogger logger, Exception exception);
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
