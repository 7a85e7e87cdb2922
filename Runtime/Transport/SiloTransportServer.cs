using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Orchestration.Runtime.Transport;

/// <summary>
/// Answers one request. <paramref name="request"/> is a fresh array the handler owns. The returned memory must stay
/// unchanged until the transport has written it (do not hand back a pooled buffer). <paramref name="cancellationToken"/>
/// is cancelled when a stopping server's grace period is over. A handler that throws sends the client a
/// <see cref="SiloRequestFailedException"/> with the exception's type and message.
/// </summary>
internal delegate ValueTask<ReadOnlyMemory<byte>> SiloRequestHandler(ReadOnlyMemory<byte> request, CancellationToken cancellationToken);

/// <summary>
/// Takes requests on the connection's read loop, which reads every other request on that connection too: it must not
/// block, nor run code that might (it hands such work on, to the thread pool or an activation), and answers each
/// request exactly once through its <see cref="SiloResponder"/>, from any thread, whenever it is ready.
/// <see cref="Receive"/> throws only before it has answered; the server then answers with the exception.
/// </summary>
internal interface ISiloRequestReceiver
{
    /// <summary><paramref name="request"/> is a fresh array the receiver owns.</summary>
    void Receive(ReadOnlyMemory<byte> request, SiloResponder responder);
}

/// <summary>Answers one request (once); see <see cref="ISiloRequestReceiver"/>.</summary>
internal readonly struct SiloResponder
{
    private readonly SiloTransportServer _server;
    private readonly FrameConnection _connection;
    private readonly int _id;

    internal SiloResponder(SiloTransportServer server, FrameConnection connection, int id)
    {
        _server = server;
        _connection = connection;
        _id = id;
    }

    /// <summary>Cancelled when a stopping server's grace period is over.</summary>
    public CancellationToken Aborted => _server.Aborted;

    /// <summary>Sends the answer. <paramref name="response"/> must stay unchanged until the transport has written it (no pooled buffer).</summary>
    public void Respond(ReadOnlyMemory<byte> response) => _server.Respond(_connection, _id, FrameKind.Response, response);

    /// <summary>Sends the client a <see cref="SiloRequestFailedException"/> with the exception's type and message.</summary>
    public void Fail(Exception exception) => _server.Fail(_connection, _id, exception);
}

/// <summary>
/// Listens for <see cref="SiloTransportClient"/> connections and hands each request to an <see cref="ISiloRequestReceiver"/>
/// (or runs a <see cref="SiloRequestHandler"/> for it on the thread pool), so requests on one connection run
/// concurrently and answers go back in any order.
/// </summary>
internal sealed partial class SiloTransportServer : IAsyncDisposable, IFrameReceiver
{
    private readonly Socket _listener;
    private readonly ISiloRequestReceiver _receiver;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SiloTransportOptions _options;
    private readonly ConcurrentDictionary<FrameConnection, byte> _connections = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _stopGate = new();
    private Task _acceptLoop = Task.CompletedTask;
    private Task? _stopping;
    private int _inFlight;
    private int _accepted;
    private volatile bool _stopRequested;

    private SiloTransportServer(Socket listener, ISiloRequestReceiver receiver, ILogger logger, TimeProvider time, SiloTransportOptions options)
    {
        _listener = listener;
        _receiver = receiver;
        _logger = logger;
        _time = time;
        _options = options;
        EndPoint = (IPEndPoint)listener.LocalEndPoint!;
        Address = IPAddress.IsLoopback(EndPoint.Address) || !(EndPoint.Address.Equals(IPAddress.Any) || EndPoint.Address.Equals(IPAddress.IPv6Any))
            ? EndPoint.ToString()
            : $"{Dns.GetHostName()}:{EndPoint.Port}";
    }

    public IPEndPoint EndPoint { get; }

    public int Port => EndPoint.Port;

    /// <summary>
    /// Where clients reach this server, as <c>host:port</c> (<c>127.0.0.1:5123</c>, <c>[::1]:5123</c>). For a wildcard
    /// bind (<see cref="IPAddress.Any"/>) the host is this machine's name, since the wildcard itself cannot be dialled.
    /// </summary>
    public string Address { get; }

    /// <summary>Connections accepted since start (for tests and diagnostics).</summary>
    internal int AcceptedConnections => Volatile.Read(ref _accepted);

    internal CancellationToken Aborted => _abort.Token;

    /// <summary>
    /// Binds <paramref name="address"/>:<paramref name="port"/> (0 = a free port) and starts accepting; each request runs
    /// <paramref name="handler"/> on the thread pool, never on the read loop, so a handler that blocks before its first
    /// await does not hold up the requests behind it.
    /// </summary>
    public static Task<SiloTransportServer> StartAsync(
        IPAddress address,
        int port,
        SiloRequestHandler handler,
        ILogger logger,
        CancellationToken cancellationToken = default,
        TimeProvider? timeProvider = null,
        SiloTransportOptions? options = null) =>
        StartAsync(address, port, new ThreadPoolReceiver(handler), logger, cancellationToken, timeProvider, options);

    /// <summary>Binds <paramref name="address"/>:<paramref name="port"/> (0 = a free port) and starts accepting; <paramref name="receiver"/> takes each request on its connection's read loop.</summary>
    public static Task<SiloTransportServer> StartAsync(
        IPAddress address,
        int port,
        ISiloRequestReceiver receiver,
        ILogger logger,
        CancellationToken cancellationToken = default,
        TimeProvider? timeProvider = null,
        SiloTransportOptions? options = null)
    {
        cancellationToken.ThrowIfCancellationRequested();
        options ??= new SiloTransportOptions();
        options.Validate();
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.Equals(IPAddress.IPv6Any))
            {
                listener.DualMode = true;
            }

            listener.Bind(new IPEndPoint(address, port));
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        var server = new SiloTransportServer(listener, receiver, logger, timeProvider ?? TimeProvider.System, options);
        server._acceptLoop = Task.Run(server.AcceptLoopAsync, CancellationToken.None);
        LogListening(logger, server.Address);
        return Task.FromResult(server);
    }

    /// <summary>
    /// Stops accepting, tells every client to send no more (requests already on their way are refused unprocessed),
    /// waits up to <see cref="SiloTransportOptions.ShutdownGracePeriod"/> for in-flight requests to be answered and
    /// for clients to close, then cancels the handlers' token and closes what is left. Idempotent.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        lock (_stopGate)
        {
            _stopping ??= StopCoreAsync();
        }

        return _stopping.WaitAsync(cancellationToken);
    }

    // _abort is not disposed: after an expired grace period a queued request may still read its token, and a
    // CancellationTokenSource without a timer holds nothing that needs disposing.
    public async ValueTask DisposeAsync() => await StopAsync();

    void IFrameReceiver.OnFrame(FrameConnection connection, FrameKind kind, int id, ReadOnlyMemory<byte> body)
    {
        if (kind != FrameKind.Request)
        {
            connection.Close(new InvalidDataException($"Unexpected frame kind {kind} from a client."));
            return;
        }

        Interlocked.Increment(ref _inFlight);
        if (_stopRequested)
        {
            connection.TryEnqueue(new OutgoingFrame(FrameKind.Rejected, id, ReadOnlyMemory<byte>.Empty));
            ReleaseRequest();
            return;
        }

        try
        {
            _receiver.Receive(body, new SiloResponder(this, connection, id));
        }
        catch (Exception exception)
        {
            Fail(connection, id, exception);
        }
    }

    internal void Respond(FrameConnection connection, int id, FrameKind kind, ReadOnlyMemory<byte> body)
    {
        connection.TryEnqueue(new OutgoingFrame(kind, id, body));
        ReleaseRequest();
    }

    internal void Fail(FrameConnection connection, int id, Exception exception)
    {
        LogHandlerFailed(_logger, exception, connection.RemoteEndPoint);
        Respond(connection, id, FrameKind.Error, Encoding.UTF8.GetBytes($"{exception.GetType().FullName}: {exception.Message}"));
    }

    void IFrameReceiver.OnClosed(FrameConnection connection, Exception? error)
    {
        _connections.TryRemove(connection, out _);
        if (error is not null && !_stopRequested)
        {
            LogConnectionClosed(_logger, connection.RemoteEndPoint, error.Message);
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync();
            }
            catch (Exception) when (_stopRequested)
            {
                return;
            }
            catch (SocketException exception) when (exception.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                continue; // a peer that gave up before its connection was accepted
            }
            catch (SocketException exception)
            {
                // Out of file descriptors and the like: keep listening, but without spinning on an error that persists.
                LogAcceptFailed(_logger, exception.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(100), _time);
                continue;
            }

            socket.NoDelay = true;
            var connection = new FrameConnection(socket, this, _options.MaxFrameLength, isClient: false);
            _connections.TryAdd(connection, 0);
            Interlocked.Increment(ref _accepted);
            connection.Start();
            if (_stopRequested)
            {
                connection.Close(null);
            }
        }
    }

    private void ReleaseRequest()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0 && _stopRequested)
        {
            _drained.TrySetResult();
        }
    }

    private async Task StopCoreAsync()
    {
        _stopRequested = true;
        _listener.Dispose();
        await _acceptLoop;
        if (Volatile.Read(ref _inFlight) == 0)
        {
            _drained.TrySetResult();
        }

        foreach (var connection in _connections.Keys)
        {
            connection.TryEnqueue(new OutgoingFrame(FrameKind.GoAway, 0, ReadOnlyMemory<byte>.Empty));
        }

        // Clients close once their last answer is in, so "every connection closed" means every answer was delivered.
        var connections = _connections.Keys.ToArray();
        var graceful = Task.WhenAll(connections.Select(connection => connection.Completion).Append(_drained.Task));
        try
        {
            await graceful.WaitAsync(_options.ShutdownGracePeriod, _time);
        }
        catch (TimeoutException)
        {
            LogGraceExpired(_logger, Address, Volatile.Read(ref _inFlight), _connections.Count);
        }

        // Connections first, then the token: an answer a cancelled handler sends must not look like a real one.
        foreach (var connection in _connections.Keys)
        {
            connection.Close(null);
        }

        await _abort.CancelAsync();
        await Task.WhenAll(connections.Select(connection => connection.Completion));
        LogStopped(_logger, Address);
    }

    /// <summary>Runs a <see cref="SiloRequestHandler"/> for each request on the thread pool.</summary>
    private sealed class ThreadPoolReceiver(SiloRequestHandler handler) : ISiloRequestReceiver
    {
        public void Receive(ReadOnlyMemory<byte> request, SiloResponder responder) =>
            ThreadPool.UnsafeQueueUserWorkItem(new RequestWork(this, request, responder), preferLocal: false);

        private async Task HandleAsync(ReadOnlyMemory<byte> request, SiloResponder responder)
        {
            ReadOnlyMemory<byte> response;
            try
            {
                response = await handler(request, responder.Aborted);
            }
            catch (Exception exception)
            {
                responder.Fail(exception);
                return;
            }

            responder.Respond(response);
        }

        private sealed class RequestWork(ThreadPoolReceiver receiver, ReadOnlyMemory<byte> request, SiloResponder responder) : IThreadPoolWorkItem
        {
            public void Execute() => _ = receiver.HandleAsync(request, responder);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo transport listening on {Address}")]
    private static partial void LogListening(ILogger logger, string address);

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo transport on {Address} stopped")]
    private static partial void LogStopped(ILogger logger, string address);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo transport on {Address} stopped waiting: {InFlight} requests in flight, {Connections} connections open")]
    private static partial void LogGraceExpired(ILogger logger, string address, int inFlight, int connections);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request handler failed for a request from {Remote}")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception, string remote);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connection from {Remote} closed: {Reason}")]
    private static partial void LogConnectionClosed(ILogger logger, string remote, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Accepting a connection failed: {Reason}")]
    private static partial void LogAcceptFailed(ILogger logger, string reason);
}
