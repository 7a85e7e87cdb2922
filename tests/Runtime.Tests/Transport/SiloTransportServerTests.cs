using System.Net;
using System.Net.Sockets;
using System.Text;
using Orchestration.Runtime.Transport;

namespace Orchestration.Runtime.Tests.Transport;

public sealed class SiloTransportServerTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_guard = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task StartAsync_PortZero_ReportsTheBoundPortInItsAddress()
    {
        await using var server = await TransportSut.StartServerAsync((request, _) => ValueTask.FromResult(request), port: 0);

        Assert.NotEqual(0, server.Port);
        Assert.Equal($"127.0.0.1:{server.Port}", server.Address);
    }

    [Fact]
    public async Task StopAsync_RequestInFlight_AnswersItBeforeClosing()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<ReadOnlyMemory<byte>>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var sut = await TransportSut.StartAsync((_, _) =>
        {
            started.SetResult();
            return new ValueTask<ReadOnlyMemory<byte>>(release.Task);
        });
        var call = sut.Client.SendAsync(sut.Server.Address, "hello"u8.ToArray(), s_timeout);
        await started.Task.WaitAsync(s_guard);

        var stopping = sut.Server.StopAsync();
        Assert.False(stopping.IsCompleted);
        release.SetResult("done"u8.ToArray());

        Assert.Equal("done", Encoding.UTF8.GetString((await call.WaitAsync(s_guard)).Span));
        await stopping.WaitAsync(s_guard);
    }

    [Fact]
    public async Task Connection_PeerWithoutThePreface_IsClosedUnanswered()
    {
        var handled = false;
        await using var server = await TransportSut.StartServerAsync((request, _) =>
        {
            handled = true;
            return ValueTask.FromResult(request);
        }, port: 0);
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await peer.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port));

        await peer.SendAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray());
        var read = await peer.ReceiveAsync(new byte[64]).WaitAsync(s_guard);

        Assert.Equal(0, read);
        Assert.False(handled);
    }

    [Fact]
    public async Task StopAsync_RequestArrivingAfterGoAway_IsRejectedUnprocessedWhileTheOneInFlightIsAnswered()
    {
        var handled = new List<string>();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // A grace period that outlasts the guards: its timer runs ahead of queued work, so on a busy machine a 10 s one can
        // close the connection before the thread pool has run the write loop that sends GoAway.
        var options = new SiloTransportOptions { ShutdownGracePeriod = TimeSpan.FromMinutes(2) };
        await using var server = await TransportSut.StartServerAsync(async (request, _) =>
        {
            lock (handled)
            {
                handled.Add(Encoding.UTF8.GetString(request.Span));
            }

            started.TrySetResult();
            await release.Task;
            return request;
        }, port: 0, options);
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await peer.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port));
        byte[] opening = [.. FrameProtocol.Preface, .. Frame(FrameKind.Request, 1, "first")];
        await peer.SendAsync(opening);
        await started.Task.WaitAsync(s_guard);

        var stopping = server.StopAsync();
        Assert.Equal((FrameKind.GoAway, 0, ""), await ReadFrameAsync(peer).WaitAsync(s_guard));
        await peer.SendAsync(Frame(FrameKind.Request, 2, "second"));
        Assert.Equal((FrameKind.Rejected, 2, ""), await ReadFrameAsync(peer).WaitAsync(s_guard));
        release.SetResult();
        Assert.Equal((FrameKind.Response, 1, "first"), await ReadFrameAsync(peer).WaitAsync(s_guard));
        peer.Shutdown(SocketShutdown.Both);
        await stopping.WaitAsync(s_guard);

        Assert.Equal(["first"], handled);
    }

    private static byte[] Frame(FrameKind kind, int id, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var frame = new byte[FrameProtocol.HeaderLength + bytes.Length];
        FrameProtocol.WriteHeader(frame, bytes.Length, kind, id);
        bytes.CopyTo(frame, FrameProtocol.HeaderLength);
        return frame;
    }

    private static async Task<(FrameKind Kind, int Id, string Body)> ReadFrameAsync(Socket socket)
    {
        var header = new byte[FrameProtocol.HeaderLength];
        await ReadExactlyAsync(socket, header);
        var (length, kind, id) = FrameProtocol.ReadHeader(header);
        var body = new byte[length];
        await ReadExactlyAsync(socket, body);
        return (kind, id, Encoding.UTF8.GetString(body));
    }

    private static async Task ReadExactlyAsync(Socket socket, byte[] buffer)
    {
        for (var read = 0; read < buffer.Length;)
        {
            var received = await socket.ReceiveAsync(buffer.AsMemory(read));
            Assert.NotEqual(0, received);
            read += received;
        }
    }
}
