using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Api.Events;
using Orchestration.Api.Extensions;
using Orchestration.Grains;
using Orchestration.Grains.Events;
using Orchestration.Runtime.Streams;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Events;

/// <summary>How one stream client's writer ends: what it tells the client to resume from.</summary>
public sealed class EventStreamWriterTests
{
    [Fact]
    public async Task WriteAsync_FellBehindAfterEventsItsFilterSkipped_ResumesAfterTheSkippedOnes()
    {
        // Event 5 is the client's; 6 is another type, 7 no API event at all. Resuming after 5 would replay both.
        var log = new ScriptedLog([[Envelope(5, "task.created"), Envelope(6, "agent.registered"), Other(7)]]);

        var body = await WriteAsync(log, "task.*");

        Assert.Contains("id: 5\nevent: task.created\n", body, StringComparison.Ordinal);
        Assert.DoesNotContain("agent.registered", body, StringComparison.Ordinal);
        Assert.EndsWith("id: 7\nevent: reconnect\ndata: {\"lastEventId\":7}\n\n", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteAsync_LogCannotBeRead_EndsWithReconnectAfterWhatWasSent()
    {
        var log = new ScriptedLog([[Envelope(5, "task.created")]], failAtTheEnd: true);

        var body = await WriteAsync(log, types: null);

        Assert.Contains("id: 5\nevent: task.created\n", body, StringComparison.Ordinal);
        Assert.EndsWith("id: 5\nevent: reconnect\ndata: {\"lastEventId\":5}\n\n", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteAsync_FilteredEventsReadyAtEveryTurn_StillSendsHeartbeats()
    {
        // Forty batches the filter drops, each already there when the writer asks, one second of the clock apart.
        var time = new ManualTimeProvider();
        var log = new ScriptedLog([.. Enumerable.Range(5, 40).Select(sequence => (IReadOnlyList<StreamEvent>)[Envelope(sequence, "agent.registered")])],
            onBatch: () => time.Advance(TimeSpan.FromSeconds(1)));

        var body = await WriteAsync(log, "task.*", time);

        Assert.Equal(2, body.Split(":\n\n").Length - 1); // after 15 s and 30 s without a byte sent
        Assert.DoesNotContain("agent.registered", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteAsync_KeyRevokedMidStream_EndsWithoutReconnect()
    {
        // Batches half a second of the clock apart: the key is checked once a second, and found revoked at the first check.
        var time = new ManualTimeProvider();
        var log = new ScriptedLog([.. Enumerable.Range(5, 10).Select(sequence => (IReadOnlyList<StreamEvent>)[Envelope(sequence, "task.created")])],
            onBatch: () => time.Advance(TimeSpan.FromMilliseconds(500)));
        var checks = 0;

        var body = await WriteAsync(log, "task.*", time, () => Task.FromResult(++checks == 0));

        Assert.True(checks >= 1);
        Assert.Contains("id: 5\nevent: task.created\n", body, StringComparison.Ordinal);
        Assert.DoesNotContain("id: 6\n", body, StringComparison.Ordinal);
        Assert.DoesNotContain("reconnect", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteAsync_KeyCheckFails_EndsWithReconnectAfterWhatWasSent()
    {
        var time = new ManualTimeProvider();
        var log = new ScriptedLog([.. Enumerable.Range(5, 10).Select(sequence => (IReadOnlyList<StreamEvent>)[Envelope(sequence, "task.created")])],
            onBatch: () => time.Advance(TimeSpan.FromMilliseconds(500)));

        var body = await WriteAsync(log, "task.*", time, () => throw new TimeoutException("the key's grain did not answer"));

        Assert.Matches("id: (\\d+)\nevent: reconnect\ndata: \\{\"lastEventId\":\\1\\}\n\n$", body);
        Assert.DoesNotContain("id: 14\n", body, StringComparison.Ordinal);
    }

    private static async Task<string> WriteAsync(IStreamLog log, string? types, ManualTimeProvider? time = null, Func<Task<bool>>? keyStillValid = null)
    {
        var context = new DefaultHttpContext();
        using var body = new MemoryStream();
        context.Response.Body = body;
        var filter = EventFilter.Parse(types, null, null, new RequestValidator());
        var writer = new EventStreamWriter(log, time ?? new ManualTimeProvider(), new ApiOptions(), NullLogger.Instance);
        await writer.WriteAsync(context, "default", 4, filter, keyStillValid ?? (() => Task.FromResult(true))).WaitAsync(TimeSpan.FromSeconds(20));
        return Encoding.UTF8.GetString(body.ToArray());
    }

    private static StreamEvent Envelope(long sequence, string type)
    {
        using var payload = JsonDocument.Parse("{}");
        var envelope = new EventEnvelope($"e-{sequence}", type, DateTimeOffset.UnixEpoch, "default", new EventActor("system", "test"),
            "tasks/t", null, null, payload.RootElement.Clone());
        return new StreamEvent(sequence, new StreamId(StreamNamespaces.Events, "default/tasks/t"), type, DateTimeOffset.UnixEpoch,
            JsonSerializer.Serialize(envelope, GrainContractsJsonContext.Default.EventEnvelope));
    }

    private static StreamEvent Other(long sequence) => new(sequence, new StreamId("counters", "default/c"), "counted", DateTimeOffset.UnixEpoch, "{}");

    /// <summary>
    /// Hands out the given batches, then ends as a follower that fell behind does (or fails, as a broken read does). With
    /// <paramref name="onBatch"/>, each batch is ready at once (the writer never waits), after that action ran.
    /// </summary>
    private sealed class ScriptedLog(IReadOnlyList<IReadOnlyList<StreamEvent>> batches, bool failAtTheEnd = false, Action? onBatch = null) : IStreamLog
    {
        public long LastSequence => batches[^1][^1].Sequence;

        public async IAsyncEnumerable<IReadOnlyList<StreamEvent>> FollowUntilBehindAsync(
            long afterSequence, string? streamNamespace, string? tenant, int liveBufferSize, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            foreach (var batch in batches)
            {
                if (onBatch is null)
                {
                    await Task.Yield();
                }
                else
                {
                    onBatch();
                }

                yield return batch;
            }

            if (failAtTheEnd)
            {
                throw new InvalidOperationException("the log could not be read");
            }
        }

        public Task<IReadOnlyList<StreamEvent>> ReadAsync(long afterSequence, int limit, string? tenant = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public IAsyncEnumerable<StreamEvent> FollowAsync(long afterSequence, string? streamNamespace = null, string? tenant = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();
    }
}
