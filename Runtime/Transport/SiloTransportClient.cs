using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Orchestration.Runtime.Transport;

/// <summary>
/// Sends requests to <see cref="SiloTransportServer"/>s and returns their answers. One per process: thread-safe, it
/// keeps <see cref="SiloTransportOptions.ConnectionsPerAddress"/> connections per address, each carrying any number of
/// concurrent requests, and replaces a connection that broke on the next request.
/// </summary>
internal sealed partial class SiloTransportClient : ISiloTransport, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ConnectionPool> _pools = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ClientConnection, byte> _connections = new();
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SiloTransportOptions _options;
    private readonly ITimer _timeoutSweep;
    private volatile bool _disposed;

    public SiloTransportClient(ILogger logger, TimeProvider? timeProvider = null, SiloTransportOptions? options = null)
    {
        _options = options ?? new SiloTransportOptions();
        _options.Validate();
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
        // One sweep for every pending call instead of a timer per call: timeouts are rare and their resolution is the interval.
        _timeoutSweep = _time.CreateTimer(
            static state => ((SiloTransportClient)state!).ExpireCalls(), this, _options.TimeoutCheckInterval, _options.TimeoutCheckInterval);
    }

    /// <summary>
    /// Sends <paramref name="request"/> to the server at <paramref name="address"/> (<c>host:port</c>, as
    /// <see cref="SiloTransportServer.Address"/> gives it) and returns its answer, a fresh array the caller owns.
    /// <paramref name="request"/> must stay unchanged until the returned task completes.
    /// </summary>
    /// <exception cref="SiloUnreachableException">No connection, or it broke; see <see cref="SiloUnreachableException.MayHaveBeenDelivered"/>.</exception>
    /// <exception cref="SiloRequestFailedException">The server's handler threw.</exception>
    /// <exception cref="TimeoutException">No answer within <paramref name="timeout"/> (the request may have been delivered).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (the request may have been delivered).</exception>
    public Task<ReadOnlyMemory<byte>> SendAsync(string address, ReadOnlyMemory<byte> request, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        Validate(timeout);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<ReadOnlyMemory<byte>>(cancellationToken);
        }

        var pool = PoolFor(address);
        var deadline = DeadlineAfter(timeout);
        var connecting = pool.GetAsync();
        return connecting.IsCompletedSuccessfully
            ? connecting.Result.SendAsync(request, deadline, timeout, cancellationToken)
            : SendWhenConnectedAsync(connecting, address, request, deadline, timeout, cancellationToken);
    }

    /// <summary>
    /// Like <see cref="SendAsync"/>, without a task: <paramref name="receiver"/> gets the answer on the connection's read
    /// loop (or the failure where it was found), so a caller that only decodes the answer and completes its own task skips
    /// a thread-pool hop. See <see cref="IAnswerReceiver"/> for what it may do there.
    /// </summary>
    public void Send(string address, ReadOnlyMemory<byte> request, TimeSpan timeout, IAnswerReceiver receiver)
    {
        Validate(timeout);
        var pool = PoolFor(address);
        var deadline = DeadlineAfter(timeout);
        var connecting = pool.GetAsync();
        if (connecting.IsCompletedSuccessfully)
        {
            connecting.Result.Send(request, deadline, timeout, receiver);
        }
        else
        {
            _ = SendWhenConnectedAsync(connecting, address, request, deadline, timeout, receiver);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        await _timeoutSweep.DisposeAsync();
        var connections = _connections.Keys.ToArray();
        foreach (var connection in connections)
        {
            connection.Close();
        }

        await Task.WhenAll(connections.Select(connection => connection.Completion));
    }

    internal async Task<ClientConnection> ConnectAsync(ConnectionPool pool)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
            await socket.ConnectAsync(pool.EndPoint, timeout.Token);
        }
        catch (Exception exception)
        {
            socket.Dispose();
            LogConnectFailed(_logger, pool.Address, exception.Message);
            throw new SiloUnreachableException(pool.Address, mayHaveBeenDelivered: false, $"Could not connect to {pool.Address}: {exception.Message}", exception);
        }

        var connection = new ClientConnection(this, pool);
        _connections.TryAdd(connection, 0);
        connection.Start(new FrameConnection(socket, connection, _options.MaxFrameLength, isClient: true));
        if (_disposed)
        {
            connection.Close();
        }

        LogConnected(_logger, pool.Address);
        return connection;
    }

    internal void OnConnectionClosed(ClientConnection connection, Exception? error)
    {
        _connections.TryRemove(connection, out _);
        if (error is not null)
        {
            LogConnectionLost(_logger, connection.Address, error.Message);
        }
    }

    private static EndPoint ParseAddress(string address)
    {
        if (IPEndPoint.TryParse(address, out var ip) && ip.Port != 0)
        {
            return ip;
        }

        var colon = address.LastIndexOf(':');
        if (colon > 0 && int.TryParse(address.AsSpan(colon + 1), out var port) && port is > 0 and <= IPEndPoint.MaxPort)
        {
            return new DnsEndPoint(address[..colon], port);
        }

        throw new ArgumentException($"'{address}' is not a host:port address.", nameof(address));
    }

    private void Validate(TimeSpan timeout)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (timeout <= TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must be positive or infinite.");
        }
    }

    private ConnectionPool PoolFor(string address)
    {
        if (!_pools.TryGetValue(address, out var pool))
        {
            pool = _pools.GetOrAdd(address, new ConnectionPool(this, address, ParseAddress(address), _options.ConnectionsPerAddress));
        }

        return pool;
    }

    private async Task SendWhenConnectedAsync(
        Task<ClientConnection> connecting, string address, ReadOnlyMemory<byte> request, long deadline, TimeSpan timeout, IAnswerReceiver receiver)
    {
        ClientConnection connection;
        try
        {
            connection = await connecting.WaitAsync(timeout, _time);
        }
        catch (TimeoutException exception)
        {
            receiver.OnFailure(new SiloUnreachableException(address, mayHaveBeenDelivered: false, $"Could not connect to {address} within {timeout}.", exception));
            return;
        }
        catch (Exception exception)
        {
            receiver.OnFailure(exception);
            return;
        }

        connection.Send(request, deadline, timeout, receiver);
    }

    private async Task<ReadOnlyMemory<byte>> SendWhenConnectedAsync(
        Task<ClientConnection> connecting, string address, ReadOnlyMemory<byte> request, long deadline, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ClientConnection connection;
        try
        {
            connection = await connecting.WaitAsync(timeout, _time, cancellationToken);
        }
        catch (TimeoutException exception)
        {
            throw new SiloUnreachableException(address, mayHaveBeenDelivered: false, $"Could not connect to {address} within {timeout}.", exception);
        }

        return await connection.SendAsync(request, deadline, timeout, cancellationToken);
    }

    private long DeadlineAfter(TimeSpan timeout)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            return long.MaxValue;
        }

        var ticks = timeout.TotalSeconds * _time.TimestampFrequency;
        return ticks >= long.MaxValue / 2 ? long.MaxValue : _time.GetTimestamp() + (long)ticks;
    }

    private void ExpireCalls()
    {
        var now = _time.GetTimestamp();
        foreach (var (connection, _) in _connections)
        {
            connection.ExpireCalls(now);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connected to silo {Address}")]
    private static partial void LogConnected(ILogger logger, string address);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not connect to silo {Address}: {Reason}")]
    private static partial void LogConnectFailed(ILogger logger, string address, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Connection to silo {Address} lost: {Reason}")]
    private static partial void LogConnectionLost(ILogger logger, string address, string reason);
}
