using System.Net.Sockets;
using System.Threading.Channels;

namespace Orchestration.Runtime.Transport;

/// <summary>Gets a connection's frames and learns when it closed; called on the connection's read loop, so it must not block.</summary>
internal interface IFrameReceiver
{
    /// <summary><paramref name="body"/> is a fresh array the receiver owns.</summary>
    void OnFrame(FrameConnection connection, FrameKind kind, int id, ReadOnlyMemory<byte> body);

    /// <summary>Called once, after the socket is closed. <paramref name="error"/> is null for an orderly close.</summary>
    void OnClosed(FrameConnection connection, Exception? error);
}

/// <summary>A frame waiting to be written; <see cref="Call"/> learns when its bytes go to the socket.</summary>
internal readonly record struct OutgoingFrame(FrameKind Kind, int Id, ReadOnlyMemory<byte> Body, PendingCall? Call = null);

/// <summary>
/// One TCP connection carrying frames both ways: a read loop that hands each frame to an <see cref="IFrameReceiver"/>,
/// and a write loop that drains a queue of frames, copying all that are waiting into one buffer per socket send
/// (concurrent callers share system calls instead of taking turns on a lock).
/// </summary>
internal sealed class FrameConnection
{
    private const int BufferLength = 64 * 1024;

    private readonly Socket _socket;
    private readonly IFrameReceiver _receiver;
    private readonly int _maxFrameLength;
    private readonly bool _isClient;
    private readonly Channel<OutgoingFrame> _outgoing =
        Channel.CreateUnbounded<OutgoingFrame>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });

    private int _closed;

    public FrameConnection(Socket socket, IFrameReceiver receiver, int maxFrameLength, bool isClient)
    {
        _socket = socket;
        _receiver = receiver;
        _maxFrameLength = maxFrameLength;
        _isClient = isClient;
        RemoteEndPoint = socket.RemoteEndPoint?.ToString() ?? "?";
    }

    public string RemoteEndPoint { get; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Completes when both loops have ended (after <see cref="IFrameReceiver.OnClosed"/>).</summary>
    public Task Completion { get; private set; } = Task.CompletedTask;

    public void Start() => Completion = Task.WhenAll(Task.Run(ReadLoopAsync), Task.Run(WriteLoopAsync));

    /// <summary>Queues a frame; false once the connection is closed.</summary>
    public bool TryEnqueue(in OutgoingFrame frame) => _outgoing.Writer.TryWrite(frame);

    /// <summary>Closes the socket (frames still queued are dropped) and tells the receiver, once.</summary>
    public void Close(Exception? error)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _outgoing.Writer.TryComplete();
        // Disposing before the receiver looks at its pending calls: a frame the write loop marks as written after
        // this point can no longer reach the socket, so "not written" stays true for every call it reports as such.
        _socket.Dispose();
        _receiver.OnClosed(this, error);
    }

    private async Task ReadLoopAsync()
    {
        Exception? error = null;
        var buffer = new byte[BufferLength];
        try
        {
            int start = 0, end = 0;
            if (!_isClient)
            {
                end = await ReceiveAtLeastAsync(buffer, 0, FrameProtocol.Preface.Length);
                if (!buffer.AsSpan(0, FrameProtocol.Preface.Length).SequenceEqual(FrameProtocol.Preface))
                {
                    throw new InvalidDataException("The peer did not open with the transport's preface.");
                }

                start = FrameProtocol.Preface.Length;
            }

            while (true)
            {
                while (end - start >= FrameProtocol.HeaderLength)
                {
                    var (length, kind, id) = FrameProtocol.ReadHeader(buffer.AsSpan(start));
                    if (length < 0 || length > _maxFrameLength)
                    {
                        throw new InvalidDataException($"Frame of {length} bytes exceeds the limit of {_maxFrameLength}.");
                    }

                    start += FrameProtocol.HeaderLength;
                    var body = length == 0 ? [] : GC.AllocateUninitializedArray<byte>(length);
                    var available = Math.Min(length, end - start);
                    buffer.AsSpan(start, available).CopyTo(body);
                    start += available;
                    if (available < length)
                    {
                        // The buffer is empty now; the rest of a large body goes straight into its own array.
                        await ReceiveAtLeastAsync(body, available, length);
                    }

                    _receiver.OnFrame(this, kind, id, body);
                }

                if (start > 0)
                {
                    buffer.AsSpan(start, end - start).CopyTo(buffer);
                    (start, end) = (0, end - start);
                }

                var read = await _socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None);
                if (read == 0)
                {
                    break;
                }

                end += read;
            }
        }
        catch (Exception exception)
        {
            error = exception;
        }
        finally
        {
            Close(error);
        }
    }

    /// <summary>Receives into <paramref name="buffer"/> from <paramref name="offset"/> until it holds at least <paramref name="length"/> bytes.</summary>
    private async Task<int> ReceiveAtLeastAsync(byte[] buffer, int offset, int length)
    {
        while (offset < length)
        {
            var read = await _socket.ReceiveAsync(buffer.AsMemory(offset), SocketFlags.None);
            if (read == 0)
            {
                throw new EndOfStreamException("The peer closed the connection in the middle of a frame.");
            }

            offset += read;
        }

        return offset;
    }

    private async Task WriteLoopAsync()
    {
        Exception? error = null;
        var buffer = new byte[BufferLength];
        var used = 0;
        try
        {
            if (_isClient)
            {
                FrameProtocol.Preface.CopyTo(buffer);
                used = FrameProtocol.Preface.Length;
            }

            // A closed connection's channel may still hold frames, and then WaitToReadAsync keeps returning true:
            // the closed check must end this loop, not only the inner one.
            var reader = _outgoing.Reader;
            while (!IsClosed && await reader.WaitToReadAsync())
            {
                while (!IsClosed && reader.TryRead(out var frame))
                {
                    // Marked before its bytes reach the socket: a failure from here on may have delivered it.
                    frame.Call?.MarkWritten();
                    var body = frame.Body;
                    if (used > 0 && BufferLength - used < FrameProtocol.HeaderLength + body.Length)
                    {
                        await SendAllAsync(buffer.AsMemory(0, used));
                        used = 0;
                    }

                    FrameProtocol.WriteHeader(buffer.AsSpan(used), body.Length, frame.Kind, frame.Id);
                    used += FrameProtocol.HeaderLength;
                    if (body.Length <= BufferLength - used)
                    {
                        body.Span.CopyTo(buffer.AsSpan(used));
                        used += body.Length;
                    }
                    else
                    {
                        await SendAllAsync(buffer.AsMemory(0, used));
                        used = 0;
                        await SendAllAsync(body);
                    }
                }

                if (used > 0)
                {
                    await SendAllAsync(buffer.AsMemory(0, used));
                    used = 0;
                }
            }
        }
        catch (Exception exception)
        {
            error = exception;
        }
        finally
        {
            Close(error);
        }
    }

    private async ValueTask SendAllAsync(ReadOnlyMemory<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var sent = await _socket.SendAsync(bytes, SocketFlags.None);
            bytes = bytes[sent..];
        }
    }
}
