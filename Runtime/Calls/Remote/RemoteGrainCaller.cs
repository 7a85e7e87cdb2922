using System.Diagnostics;
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
internal sealed class RemoteGrainCaller(
    ISiloTransport transport, ClusterMap map, JsonSerializerOptions json, TimeProvider time, TimeSpan responseTimeout, string? selfAddress,
    Func<GrainId, IGrainMessage, bool> deliverHere)
{
    private static readonly TimeSpan s_noOwnerWait = TimeSpan.FromMilliseconds(50);

    public void Send(GrainId target, IGrainMessage message) => _ = SendAsync(target, message);

    private async Task SendAsync(GrainId target, IGrainMessage message)
    {
        try
        {
            var partition = ClusterPartitions.Of(target);
            var deadline = message.SentAt + (long)(responseTimeout.TotalSeconds * time.TimestampFrequency);
            while (true)
            {
                var remaining = TimeSpan.FromSeconds((deadline - time.GetTimestamp()) / (double)time.TimestampFrequency);
                if (remaining <= TimeSpan.Zero)
                {
                    message.Fail(new GrainCallTimeoutException(target, message.Method.Name, responseTimeout));
                    return;
                }

                if (deliverHere(target, message))
                {
                    return;
                }

                if (map.OwnerOf(partition) is not { } owner || owner == selfAddress)
                {
                    // No live owner yet (a hand-over or a failover in progress), or this silo itself, which is handing it over.
                    _ = map.RefreshAsync(CancellationToken.None);
                    await map.WhenChangedAsync(s_noOwnerWait, time);
                    continue;
                }

                ReadOnlyMemory<byte> answer;
                try
                {
                    answer = await transport.SendAsync(owner, Encode(target, message, remaining), remaining);
                }
                catch (SiloUnreachableException unreachable) when (!unreachable.MayHaveBeenDelivered)
                {
                    await map.RefreshAsync(CancellationToken.None);
                    await map.WhenChangedAsync(s_noOwnerWait, time);
                    continue;
                }
                catch (SiloUnreachableException unreachable)
                {
                    // It may have run: sending it again could run it twice. The caller decides (an idempotency key, a read).
                    message.Fail(new SiloUnavailableException(target, message.Method.Name, unreachable.Address));
                    return;
                }

                var response = JsonSerializer.Deserialize(answer.Span, RemoteCallJsonContext.Default.RemoteCallResponse)!;
                switch (response.Outcome)
                {
                    case RemoteCallOutcome.Completed:
                        message.CompleteFromJson(response.Result, json);
                        return;
                    case RemoteCallOutcome.Failed:
                        message.Fail(RemoteExceptions.Rebuild(response, json));
                        return;
                    default:
                        // "Not mine": the map is behind (or the owner is handing over); wait for it to move, not spin.
                        await map.RefreshAsync(CancellationToken.None);
                        await map.WhenChangedAsync(s_noOwnerWait, time);
                        continue;
                }
            }
        }
        catch (TimeoutException)
        {
            message.Fail(new GrainCallTimeoutException(target, message.Method.Name, responseTimeout));
        }
        catch (Exception exception)
        {
            message.Fail(exception);
        }
    }

    private byte[] Encode(GrainId target, IGrainMessage message, TimeSpan remaining)
    {
        var types = message.Method.ParameterTypes;
        var arguments = new JsonElement[message.Arguments.Length];
        for (var i = 0; i < arguments.Length; i++)
        {
            arguments[i] = JsonSerializer.SerializeToElement(message.Arguments[i], types[i], json);
        }

        var traceParent = (message.Caller ?? Activity.Current)?.Id;
        var request = new RemoteCallRequest(target.Type, target.Key, message.Method.WireName, arguments, (int)remaining.TotalMilliseconds, traceParent);
        return JsonSerializer.SerializeToUtf8Bytes(request, RemoteCallJsonContext.Default.RemoteCallRequest);
    }
}
