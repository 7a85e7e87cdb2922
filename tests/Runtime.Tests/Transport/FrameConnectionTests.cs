using System.Net;
using System.Net.Sockets;
using Orchestration.Runtime.Transport;

namespace Orchestration.Runtime.Tests.Transport;

public sealed class FrameConnectionTests
{
    [Fact]
    public async Task Completion_ClosedWithFramesStillQueued_BothLoopsEnd()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(listener.LocalEndPoint!);
        using var peer = await listener.AcceptAsync();
        var connection = CreateSut(socket);

        // Closing before the loops start is the state a close that races ahead of the write loop leaves behind: a
        // completed queue that still holds a frame.
        Assert.True(connection.TryEnqueue(new OutgoingFrame(FrameKind.Response, 1, "queued"u8.ToArray())));
        connection.Close(null);
        connection.Start();

        await connection.Completion.WaitAsync(TimeSpan.FromSeconds(5));
    }

    private static FrameConnection CreateSut(Socket socket) => new(socket, new IgnoringReceiver(), maxFrameLength: 1024, isClient: false);

    private sealed class IgnoringReceiver : IFrameReceiver
    {
        public void OnFrame(FrameConnection connection, FrameKind kind, int id, ReadOnlyMemory<byte> body)
        {
        }

        public void OnClosed(FrameConnection connection, Exception? error)
        {
        }
    }
}
