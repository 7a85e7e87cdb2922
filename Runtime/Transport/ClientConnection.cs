using System.Collections.Concurrent;
using System.Text;

namespace Orchestration.Runtime.Transport;

/// <summary>
/// The client's side of one connection: numbers requests, matches answers to them, and fails what is left when the
/// connection breaks. After the server's <see cref="FrameKind.GoAway"/> it takes no new requests and closes once the
/// last answer is in, which is what lets a stopping server finish without cutting anyone off.
/// </summary>
internal sealed class ClientConnection : IFrameReceiver
{
    private readonly SiloTransportClient _client;
    private readonly ConnectionPool _pool;
    private readonly ConcurrentDictionary<int, PendingCall> _pending = new();
    private FrameConnection? _frames;
    private int _nextId;
    private int _draining; // 1 once the server's GoAway came; set with a full fence, see OnFrame

    public ClientConnection(SiloTransportClient client, ConnectionPool pool)
    {
        _client = client;
        _pool = pool;
    }

    public string Address => _pool.Address;

    public bool IsUsable => !HasReceivedGoAway && !Frames.IsClosed;

    /// <summary>Whether the server's GoAway has come: it refuses every request it reads from then on, unread.</summary>
    public bool HasReceivedGoAway => Volatile.Read(ref _draining) != 0;

    public Task Completion => Frames.Completion;

    private FrameConnection Frames => _frames ?? throw new InvalidOperationException("The connection was not started.");

    public void Start(FrameConnection frames)
    {
        _frames = frames;
        frames.Start();
    }

    public Task<ReadOnlyMemory<byte>> SendAsync(ReadOnlyMemory<byte> request, long deadline, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var call = new TaskPendingCall(this, NextId(), deadline, timeout);
        _pending[call.Id] = call;
        if (cancellationToken.CanBeCanceled)
        {
            call.Cancellation = cancellationToken.UnsafeRegister(
                static (state, token) =>
                {
                    var call = (PendingCall)state!;
                    if (call.Owner._pending.TryRemove(call.Id, out _))
                    {
                        call.Cancel(token);
                    }
                },
                call);
        }

        Enqueue(call, request);
        return call.Task;
    }

    public void Send(ReadOnlyMemory<byte> request, long deadline, TimeSpan timeout, IAnswerReceiver receiver)
    {
        var call = new ReceiverPendingCall(this, NextId(), deadline, timeout, receiver);
        _pending[call.Id] = call;
        Enqueue(call, request);
    }

    private int NextId()
    {
        var id = Interlocked.Increment(ref _nextId);
        return id != 0 ? id : Interlocked.Increment(ref _nextId); // 0 belongs to connection-level frames (reached only after wrapping)
    }

    private void Enqueue(PendingCall call, ReadOnlyMemory<byte> request)
    {
        // Close sets the closed flag before it fails the pending calls, so a call added after that sweep sees the flag here.
        if ((Frames.IsClosed || !Frames.TryEnqueue(new OutgoingFrame(FrameKind.Request, call.Id, request, call))) && _pending.TryRemove(call.Id, out _))
        {
            Complete(call, new SiloUnreachableException(Address, mayHaveBeenDelivered: false, $"The connection to {Address} closed before the request was sent."));
        }
    }

    public void Close() => _frames?.Close(null);

    /// <summary>Fails the calls whose deadline is at or before <paramref name="now"/>.</summary>
    public void ExpireCalls(long now)
    {
        foreach (var (id, call) in _pending)
        {
            if (call.Deadline <= now && _pending.TryRemove(id, out _))
            {
                Complete(call, new TimeoutException($"No answer from {Address} within {call.Timeout}; the request may have been delivered."));
            }
        }

        CloseIfDrained();
    }

    void IFrameReceiver.OnFrame(FrameConnection connection, FrameKind kind, int id, ReadOnlyMemory<byte> body)
    {
        switch (kind)
        {
            case FrameKind.Response or FrameKind.Error or FrameKind.Rejected:
                if (_pending.TryRemove(id, out var call))
                {
                    if (kind == FrameKind.Response)
                    {
                        call.Cancellation.Dispose();
                        call.Answer(body);
                    }
                    else
                    {
                        Complete(call, kind == FrameKind.Error
                            ? new SiloRequestFailedException(Address, Encoding.UTF8.GetString(body.Span))
                            : new SiloUnreachableException(Address, mayHaveBeenDelivered: false, $"{Address} is stopping and refused the request unprocessed."));
                    }
                }

                CloseIfDrained();
                break;
            case FrameKind.GoAway:
                // A full fence before CloseIfDrained looks at the pending calls: a send that adds its call after that look
                // finds the flag set when its request is written (PendingCall.MayHaveBeenDelivered), so closing under it
                // fails it as never delivered.
                Interlocked.Exchange(ref _draining, 1);
                _pool.Remove(this);
                CloseIfDrained();
                break;
            default:
                connection.Close(new InvalidDataException($"Unexpected frame kind {kind} from a server."));
                break;
        }
    }

    void IFrameReceiver.OnClosed(FrameConnection connection, Exception? error)
    {
        _pool.Remove(this);
        _client.OnConnectionClosed(this, HasReceivedGoAway ? null : error);
        foreach (var (id, call) in _pending)
        {
            if (_pending.TryRemove(id, out _))
            {
                var delivered = call.MayHaveBeenDelivered;
                Complete(call, new SiloUnreachableException(
                    Address,
                    delivered,
                    delivered ? $"The connection to {Address} broke after the request was sent." : $"The connection to {Address} closed before the request was sent or read.",
                    error));
            }
        }
    }

    private static void Complete(PendingCall call, Exception exception)
    {
        call.Cancellation.Dispose();
        call.Fail(exception);
    }

    private void CloseIfDrained()
    {
        if (HasReceivedGoAway && _pending.IsEmpty)
        {
            Close();
        }
    }
}
