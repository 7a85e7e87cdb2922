using Microsoft.Extensions.Logging;
using Npgsql;

namespace Orchestration.Runtime.Persistence;

/// <summary>
/// Holds a LISTEN connection on one channel and turns notifications into hints (new events, moved partitions). Any failure (a terminated backend, a restart, a broken
/// network) ends the connection; it reconnects at once, then with growing back-off, and hints a catch-up on every
/// (re)connect. Readers poll meanwhile, so a lost notification delays an event by at most the poll interval.
/// </summary>
internal sealed partial class PostgresNotificationListener : IAsyncDisposable
{
    /// <summary>The listener connection's <c>application_name</c>, to find it in <c>pg_stat_activity</c>.</summary>
    public const string ApplicationName = "orchestration-listener";

    private static readonly TimeSpan s_firstRetryDelay = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan s_maxRetryDelay = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public PostgresNotificationListener(string connectionString, string channel, Action<long> onNotification, TimeProvider timeProvider, ILogger logger)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            ApplicationName = ApplicationName,
            // A connection that only waits sends nothing, so a dead server or a half-open TCP connection would go
            // unnoticed for ever: a ping every 15 s (and TCP keepalive below it) turns that into an error we recover from.
            KeepAlive = 15,
            TcpKeepAlive = true,
            TcpKeepAliveTime = 30,
            TcpKeepAliveInterval = 10,
            // A pooled connection could come back still listening, or already broken.
            Pooling = false,
        };
        _loop = Task.Run(() => ListenAsync(builder.ConnectionString, channel, onNotification, timeProvider, logger, _stop.Token));
    }

    /// <summary>The wait before reconnect attempt <paramref name="failures"/> + 1: none after the first failure, then doubling.</summary>
    internal static TimeSpan RetryDelay(int failures) =>
        failures <= 1 ? TimeSpan.Zero : TimeSpan.FromTicks((long)Math.Min(s_maxRetryDelay.Ticks, s_firstRetryDelay.Ticks * Math.Pow(2, failures - 2)));

    private static async Task ListenAsync(string connectionString, string channel, Action<long> onNotification, TimeProvider timeProvider, ILogger logger, CancellationToken stop)
    {
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(stop);
                // The payload is a number (for events: the newest sequence of the commit that notified), or empty.
                connection.Notification += (_, notification) =>
                    onNotification(long.TryParse(notification.Payload, out var sequence) ? sequence : long.MaxValue);
                await using (var listen = new NpgsqlCommand($"LISTEN {channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stop);
                }

                if (failures > 0)
                {
                    LogReconnected(logger, channel, failures);
                    failures = 0;
                }

                onNotification(long.MaxValue); // anything committed while we were not listening
                while (!stop.IsCancellationRequested)
                {
                    await connection.WaitAsync(stop);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                failures++;
                var delay = RetryDelay(failures);
                LogListenFailed(logger, channel, failures, delay, exception);
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, timeProvider, stop).ContinueWith(static _ => { }, TaskScheduler.Default);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Listening on {Channel} failed ({Failures} in a row); reconnecting in {Delay}, polling meanwhile")]
    private static partial void LogListenFailed(ILogger logger, string channel, int failures, TimeSpan delay, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening on {Channel} again after {Failures} failures")]
    private static partial void LogReconnected(ILogger logger, string channel, int failures);
}
