using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Runtime.Transport;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Transport;

public sealed class SiloTransportClientTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a test waits for something that should happen at once before it fails instead of hanging.</summary>
    private static readonly TimeSpan s_guard = TimeSpan.FromSeconds(20);

    private static readonly SiloTransportOptions s_oneConnection = new() { ConnectionsPerAddress = 1 };

    [Fact]
    public async Task SendAsync_EchoHandler_ReturnsTheRequestBytes()
    {
        await using var sut = await TransportSut.StartAsync((request, _) => ValueTask.FromResult(request));

        var answer = await sut.Client.SendAsync(sut.Server.Address, "hello"u8.ToArray(), s_timeout);

        Assert.Equal("hello", Encoding.UTF8.GetString(answer.Span));
    }

    [Fact]
    public async Task SendAsync_ThousandConcurrentRequestsOnOneConnection_EachGetsItsOwnAnswer()
    {
        const int Requests = 1000;
        var arrived = 0;
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var sut = await TransportSut.StartAsync(
            async (request, _) =>
            {
                // Every handler waits until all requests are in: they can only finish if all 1,000 run at the same time.
                if (Interlocked.Increment(ref arrived) == Requests)
                {
                    allArrived.SetResult();
                }

                await allArrived.Task;
                return Encoding.UTF8.GetBytes("answer to " + Encoding.UTF8.GetString(request.Span));
            },
            s_oneConnection);

        var answers = await Task.WhenAll(Enumerable.Range(0, Requests).Select(async i =>
            Encoding.UTF8.GetString((await sut.Client.SendAsync(sut.Server.Address, Encoding.UTF8.GetBytes($"request {i}"), s_timeout)).Span)))
            .WaitAsync(s_guard);

        Assert.Equal(Enumerable.Range(0, Requests).Select(i => $"answer to request {i}"), answers);
        Assert.Equal(1, sut.Server.AcceptedConnections);
    }

    [Fact]
    public async Task SendAsync_OneMebibytePayload_ArrivesAndReturnsIntact()
    {
        var payload = new byte[1024 * 1024];
        new Random(7).NextBytes(payload);
        await using var sut = await TransportSut.StartAsync((request, _) =>
        {
            var reversed = request.ToArray();
            Array.Reverse(reversed);
            return ValueTask.FromResult<ReadOnlyMemory<byte>>(reversed);
        });

        var answer = await sut.Client.SendAsync(sut.Server.Address, payload, s_timeout);

        Array.Reverse(payload);
        Assert.True(answer.Span.SequenceEqual(payload));
    }

    [Fact]
    public async Task SendAsync_SlowRequestInFlight_FastRequestOnSameConnectionIsAnswered()
    {
        var slowStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseSlow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var sut = await TransportSut.StartAsync(
            (request, cancellationToken) =>
            {
                if (request.Span[0] == (byte)'s')
                {
                    // Blocks its thread, not just its task: the read loop must not be the thread that runs it.
                    slowStarted.SetResult();
                    releaseSlow.Task.Wait(cancellationToken);
                }

                return ValueTask.FromResult(request);
            },
            s_oneConnection);

        var slow = sut.Client.SendAsync(sut.Server.Address, "slow"u8.ToArray(), s_timeout);
        await slowStarted.Task.WaitAsync(s_guard);
        var fast = await sut.Client.SendAsync(sut.Server.Address, "fast"u8.ToArray(), s_timeout).WaitAsync(s_guard);

        Assert.Equal("fast", Encoding.UTF8.GetString(fast.Span));
        Assert.False(slow.IsCompleted);
        releaseSlow.SetResult();
        Assert.Equal("slow", Encoding.UTF8.GetString((await slow).Span));
        Assert.Equal(1, sut.Server.AcceptedConnections);
    }

    [Fact]
    public async Task SendAsync_HandlerThrows_RaisesRequestFailedWithItsMessageAndTheConnectionKeepsWorking()
    {
        await using var sut = await TransportSut.StartAsync(
            (request, _) => request.Span[0] == (byte)'!' ? throw new InvalidOperationException("grain blew up") : ValueTask.FromResult(request),
            s_oneConnection);

        var failure = await Assert.ThrowsAsync<SiloRequestFailedException>(() => sut.Client.SendAsync(sut.Server.Address, "!"u8.ToArray(), s_timeout));
        var answer = await sut.Client.SendAsync(sut.Server.Address, "still there"u8.ToArray(), s_timeout);

        Assert.Equal("System.InvalidOperationException: grain blew up", failure.Message);
        Assert.Equal(sut.Server.Address, failure.Address);
        Assert.Equal("still there", Encoding.UTF8.GetString(answer.Span));
        Assert.Equal(1, sut.Server.AcceptedConnections);
    }

    [Fact]
    public async Task Send_Receiver_GetsTheAnswerOnceOnTheReadLoop()
    {
        await using var sut = await TransportSut.StartAsync((request, _) => ValueTask.FromResult(request), s_oneConnection);
        var receiver = new RecordingReceiver();

        sut.Client.Send(sut.Server.Address, "hello"u8.ToArray(), s_timeout, receiver);

        Assert.Equal("hello", Encoding.UTF8.GetString((await receiver.Outcome.Task.WaitAsync(s_guard)).Span));
        Assert.Equal(1, receiver.Calls);
        Assert.Contains(nameof(FrameConnection), receiver.Stack, StringComparison.Ordinal); // the read loop's own stack, no hop
    }

    [Fact]
    public async Task Send_NothingListening_ReceiverGetsUnreachableNotDelivered()
    {
        await using var client = new SiloTransportClient(NullLogger.Instance);
        var receiver = new RecordingReceiver();

        client.Send($"127.0.0.1:{FreePort()}", "hello"u8.ToArray(), s_timeout, receiver);

        var failure = await Assert.ThrowsAsync<SiloUnreachableException>(() => receiver.Outcome.Task.WaitAsync(s_guard));
        Assert.False(failure.MayHaveBeenDelivered);
        Assert.Equal(1, receiver.Calls);
    }

    [Fact]
    public async Task SendAsync_NothingListening_ThrowsUnreachableNotDeliveredWithinOneSecond()
    {
        await using var client = new SiloTransportClient(NullLogger.Instance);
        var address = $"127.0.0.1:{FreePort()}";
        var watch = Stopwatch.StartNew();

        var failure = await Assert.ThrowsAsync<SiloUnreachableException>(() => client.SendAsync(address, "hello"u8.ToArray(), s_timeout));

        Assert.False(failure.MayHaveBeenDelivered);
        Assert.Equal(address, failure.Address);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task SendAsync_ServerStoppedMidRequest_ThrowsUnreachableThatMayHaveBeenDelivered()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<ReadOnlyMemory<byte>>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var sut = await TransportSut.StartAsync(
            (_, _) =>
            {
                started.SetResult();
                return new ValueTask<ReadOnlyMemory<byte>>(release.Task);
            },
            new SiloTransportOptions { ShutdownGracePeriod = TimeSpan.FromMilliseconds(50) });

        var call = sut.Client.SendAsync(sut.Server.Address, "hello"u8.ToArray(), s_timeout);
        await started.Task.WaitAsync(s_guard);
        await sut.Server.StopAsync().WaitAsync(s_guard);

        var failure = await Assert.ThrowsAsync<SiloUnreachableException>(() => call.WaitAsync(s_guard));
        Assert.True(failure.MayHaveBeenDelivered);
        release.SetResult(ReadOnlyMemory<byte>.Empty);
    }

    [Fact]
    public async Task SendAsync_ServerStopped_ThrowsUnreachableNotDelivered()
    {
        await using var sut = await TransportSut.StartAsync((request, _) => ValueTask.FromResult(request));
        await sut.Client.SendAsync(sut.Server.Address, "hello"u8.ToArray(), s_timeout);
        await sut.Server.StopAsync();

        var failure = await Assert.ThrowsAsync<SiloUnreachableException>(() => sut.Client.SendAsync(sut.Server.Address, "hello"u8.ToArray(), s_timeout));

        Assert.False(failure.MayHaveBeenDelivered);
    }

    /// <summary>
    /// A server sends GoAway once it refuses, unread, every request it reads from then on. A request the client writes
    /// after the GoAway came was therefore never run, and a connection that breaks before its refusal arrives must say
    /// so: reported as "may have been delivered", a caller cannot retry it (an Api answered 503 in a rolling restart,
    /// where a send picked the connection just as the GoAway came and the client closed it under that send).
    /// </summary>
    [Fact]
    public async Task Send_ConnectionBreaksAfterGoAway_OnlyRequestsWrittenBeforeItMayHaveBeenDelivered()
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var endPoint = (IPEndPoint)listener.LocalEndPoint!;
        await using var client = new SiloTransportClient(NullLogger.Instance);
        var pool = new ConnectionPool(client, $"127.0.0.1:{endPoint.Port}", endPoint, 1);
        var accepting = listener.AcceptAsync();
        var connection = await client.ConnectAsync(pool).WaitAsync(s_guard);
        using var server = await accepting.WaitAsync(s_guard);

        var before = new FailureReceiver();
        connection.Send("before"u8.ToArray(), long.MaxValue, s_timeout, before);
        await ReadExactlyAsync(server, FrameProtocol.Preface.Length); // sent with the first frame
        await ReadFrameAsync(server);
        var goAway = new byte[FrameProtocol.HeaderLength];
        FrameProtocol.WriteHeader(goAway, 0, FrameKind.GoAway, 0);
        await server.SendAsync(goAway);
        await Eventually.TrueAsync(() => Task.FromResult(connection.HasReceivedGoAway), "the client has the GoAway");
        var after = new FailureReceiver();
        connection.Send("after"u8.ToArray(), long.MaxValue, s_timeout, after);
        await ReadFrameAsync(server);
        server.Close(0);

        Assert.True((await before.Failure.WaitAsync(s_guard)).MayHaveBeenDelivered);
        Assert.False((await after.Failure.WaitAsync(s_guard)).MayHaveBeenDelivered);
    }

    private static async Task ReadFrameAsync(Socket socket)
    {
        var header = await ReadExactlyAsync(socket, FrameProtocol.HeaderLength);
        await ReadExactlyAsync(socket, FrameProtocol.ReadHeader(header).BodyLength);
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int length)
    {
        var buffer = new byte[length];
        for (var read = 0; read < length;)
        {
            var received = await socket.ReceiveAsync(buffer.AsMemory(read)).AsTask().WaitAsync(s_guard);
            Assert.NotEqual(0, received);
            read += received;
        }

        return buffer;
    }

    private sealed class FailureReceiver : IAnswerReceiver
    {
        private readonly TaskCompletionSource<SiloUnreachableException> _failure = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<SiloUnreachableException> Failure => _failure.Task;

        public void OnAnswer(ReadOnlyMemory<byte> answer) => _failure.TrySetException(new InvalidOperationException("an answer came"));

        public void OnFailure(Exception exception) =>
            _failure.TrySetResult(exception as SiloUnreachableException ?? throw new InvalidOperationException("unexpected failure", exception));
    }

    [Fact]
    public async Task SendAsync_NoAnswerWithinTimeout_ThrowsTimeoutAndALateAnswerIsDropped()
    {
        var time = new ManualTimeProvider();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<ReadOnlyMemory<byte>>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var sut = await TransportSut.StartAsync(
            (request, _) =>
            {
                if (request.Span[0] != (byte)'s')
                {
                    return ValueTask.FromResult(request);
                }

                started.SetResult();
                return new ValueTask<ReadOnlyMemory<byte>>(release.Task);
            },
            s_oneConnection,
            time);

        var call = sut.Client.SendAsync(sut.Server.Address, "slow"u8.ToArray(), TimeSpan.FromSeconds(5));
        await started.Task.WaitAsync(s_guard);
        time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(call.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(0.2));

        await Assert.ThrowsAsync<TimeoutException>(() => call.WaitAsync(s_guard));
        release.SetResult("late"u8.ToArray());
        var answer = await sut.Client.SendAsync(sut.Server.Address, "next"u8.ToArray(), s_timeout).WaitAsync(s_guard);
        Assert.Equal("next", Encoding.UTF8.GetString(answer.Span));
    }

    [Fact]
    public async Task SendAsync_CallerCancels_ThrowsOperationCanceled()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<ReadOnlyMemory<byte>>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var sut = await TransportSut.StartAsync((_, _) =>
        {
            started.SetResult();
            return new ValueTask<ReadOnlyMemory<byte>>(release.Task);
        });
        using var cancellation = new CancellationTokenSource();

        var call = sut.Client.SendAsync(sut.Server.Address, "hello"u8.ToArray(), s_timeout, cancellation.Token);
        await started.Task.WaitAsync(s_guard);
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(s_guard));
        release.SetResult(ReadOnlyMemory<byte>.Empty);
    }

    [Fact]
    public async Task SendAsync_ServerRestartedOnSamePort_Reconnects()
    {
        await using var sut = await TransportSut.StartAsync((_, _) => ValueTask.FromResult<ReadOnlyMemory<byte>>("first"u8.ToArray()), s_oneConnection);
        var before = await sut.Client.SendAsync(sut.Server.Address, "hello"u8.ToArray(), s_timeout);

        await sut.RestartServerAsync((_, _) => ValueTask.FromResult<ReadOnlyMemory<byte>>("second"u8.ToArray()));
        var after = await sut.Client.SendAsync(sut.Server.Address, "hello"u8.ToArray(), s_timeout);

        Assert.Equal("first", Encoding.UTF8.GetString(before.Span));
        Assert.Equal("second", Encoding.UTF8.GetString(after.Span));
        Assert.Equal(1, sut.Server.AcceptedConnections);
    }

    [Fact]
    public async Task SendAsync_AddressWithoutPort_ThrowsArgumentException()
    {
        await using var client = new SiloTransportClient(NullLogger.Instance);

        Assert.Throws<ArgumentException>(() => { _ = client.SendAsync("localhost", "hello"u8.ToArray(), s_timeout); });
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private sealed class RecordingReceiver : IAnswerReceiver
    {
        private int _calls;

        public TaskCompletionSource<ReadOnlyMemory<byte>> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Calls => Volatile.Read(ref _calls);

        public string Stack { get; private set; } = string.Empty;

        public void OnAnswer(ReadOnlyMemory<byte> answer)
        {
            Interlocked.Increment(ref _calls);
            Stack = Environment.StackTrace;
            Outcome.TrySetResult(answer);
        }

        public void OnFailure(Exception exception)
        {
            Interlocked.Increment(ref _calls);
            Outcome.TrySetException(exception);
        }
    }
}
