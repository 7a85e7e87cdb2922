using System.Net;
using System.Net.Sockets;
using System.Text;

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
}
