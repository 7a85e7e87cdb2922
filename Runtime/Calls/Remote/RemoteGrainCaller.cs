using System.Text.Json;
using Orchestration.Runtime.Clustering;
using Orchestration.Runtime.Transport;

namespace Orchestration.Runtime.Calls.Remote;

/// <summary>
/// Sends calls to the silo that serves the grain's partition and completes them with its answer. A call that did not
/// run (no owner yet, the owner said "not mine", or the connection never carried it) waits for the map to change and
/// goes again, until its response timeout; one that may have run is never sent twice. Before each attempt it asks
/// <c>deliverHere</c> to run the call in this process if this silo serves the grain now (it may have just taken the
/// partition over while the call waited).
/// </summary>
/// <remarks>
/// The first attempt is sent on the caller's thread and never waits. Its answer is read where it arrives, on the
/// connection's read loop: a small completed answer is decoded there and completes the call's task, whose continuations
/// run asynchronously (<see cref="GrainMessage{TResult}"/>), so the caller's code never runs on the read loop. Anything
/// else (a large answer, a failure to rebuild, a wait for the map) goes to the thread pool first.
/// </remarks>
internal sealed class RemoteGrainCaller(
    ISiloTransport transport, ClusterMap map, JsonSerializerOptions json, TimeProvider time, TimeSpan responseTimeout, string? selfAddress,
    Func<GrainId, IGrainMessage, bool> deliverHere)
{
    private readonly ISiloTransport _transport = transport;
    private readonly ClusterMap _map = map;
    private readonly JsonSerializerOptions _json = json;
    private readonly TimeProvider _time = time;
    private readonly TimeSpan _responseTimeout = responseTimeout;
    private readonly string? _selfAddress = selfAddress;
    private readonly Func<GrainId, IGrainMessage, bool> _deliverHere = deliverHere;

    private static readonly TimeSpan s_noOwnerWait = TimeSpan.FromMilliseconds(50);

    // Reading a result is System.Text.Json on the caller's declared result type: bounded by the answer's length, which
    // keeps what one answer can take from the read loop (and the answers behind it) small.
    private const int ReadLoopLimit = 16 * 1024;

    public void Send(GrainId target, IGrainMessage message) => new RemoteCall(this, target, message).Attempt();

    private static byte[] Encode(GrainId target, IGrainMessage message, TimeSpan remaining, JsonSerializerOptions json) =>
        RemoteCallCodec.WriteRequest(target, message.Method, message.Arguments, (int)remaining.TotalMilliseconds, message.Caller?.Id, json);

    /// <summary>One call's attempts; also the receiver of each attempt's answer.</summary>
    private sealed class RemoteCall(RemoteGrainCaller caller, GrainId target, IGrainMessage message) : IAnswerReceiver
    {
        private readonly long _deadline = message.SentAt + (long)(caller._responseTimeout.TotalSeconds * caller._time.TimestampFrequency);

        /// <summary>Sends the call to its partition's owner, or runs it here, or fails it; never waits (a wait goes to the thread pool).</summary>
        public void Attempt()
        {
            try
            {
                var remaining = TimeSpan.FromSeconds((_deadline - caller._time.GetTimestamp()) / (double)caller._time.TimestampFrequency);
                if (remaining <= TimeSpan.Zero)
                {
                    TimedOut();
                    return;
                }

                if (caller._deliverHere(target, message))
                {
                    return;
                }

                if (caller._map.OwnerOf(ClusterPartitions.Of(target)) is not { } owner || owner == caller._selfAddress)
                {
                    // No live owner yet (a hand-over or a failover in progress), or this silo itself, which is handing it over.
                    Retry(awaitRefresh: false);
                    return;
                }

                caller._transport.Send(owner, Encode(target, message, remaining, caller._json), remaining, this);
            }
            catch (Exception exception)
            {
                message.Fail(exception);
            }
        }

        public void OnAnswer(ReadOnlyMemory<byte> answer)
        {
            if (answer.Length > ReadLoopLimit)
            {
                ThreadPool.UnsafeQueueUserWorkItem(static state => state.Call.Read(state.Answer), (Call: this, Answer: answer), preferLocal: false);
                return;
            }

            Read(answer);
        }

        public void OnFailure(Exception exception)
        {
            switch (exception)
            {
                case SiloUnreachableException { MayHaveBeenDelivered: false }:
                    Retry(awaitRefresh: true);
                    break;
                case SiloUnreachableException unreachable:
                    // It may have run: sending it again could run it twice. The caller decides (an idempotency key, a read).
                    message.Fail(new SiloUnavailableException(target, message.Method.Name, unreachable.Address));
                    break;
                case TimeoutException:
                    TimedOut();
                    break;
                default:
                    message.Fail(exception);
                    break;
            }
        }

        private void Read(ReadOnlyMemory<byte> answer)
        {
            try
            {
                switch (RemoteCallCodec.ReadOutcome(answer.Span, out var result))
                {
                    case RemoteCallOutcome.Completed:
                        message.CompleteFromJson(result, caller._json);
                        break;
                    case RemoteCallOutcome.Failed:
                        // Rebuilding runs the exception type's constructor: the thread pool's work, not the read loop's.
                        ThreadPool.UnsafeQueueUserWorkItem(static state => state.Call.Rebuild(state.Answer), (Call: this, Answer: answer), preferLocal: false);
                        break;
                    default:
                        // "Not mine": the map is behind (or the owner is handing over); wait for it to move, not spin.
                        Retry(awaitRefresh: true);
                        break;
                }
            }
            catch (Exception exception)
            {
                message.Fail(exception);
            }
        }

        private void Rebuild(ReadOnlyMemory<byte> answer)
        {
            Exception failure;
            try
            {
                failure = RemoteCallCodec.ReadFailure(answer.Span, caller._json);
            }
            catch (Exception exception)
            {
                failure = exception;
            }

            message.Fail(failure);
        }

        /// <summary>
        /// Waits for the map to move, then attempts again: on the thread pool, since this may be a read loop or a grain's
        /// turn (whose scheduler an await would otherwise come back to).
        /// </summary>
        private void Retry(bool awaitRefresh) => _ = Task.Run(() => RetryAsync(awaitRefresh));

        private async Task RetryAsync(bool awaitRefresh)
        {
            try
            {
                var refresh = caller._map.RefreshAsync(CancellationToken.None);
                if (awaitRefresh)
                {
                    await refresh;
                }

                await caller._map.WhenChangedAsync(s_noOwnerWait, caller._time);
            }
            catch (Exception exception)
            {
                message.Fail(exception);
                return;
            }

            Attempt();
        }

        private void TimedOut() => message.Fail(new GrainCallTimeoutException(target, message.Method.Name, caller._responseTimeout));
    }
}
