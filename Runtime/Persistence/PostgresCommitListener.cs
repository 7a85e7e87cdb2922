using Npgsql;

namespace Orchestration.Runtime.Persistence;

/// <summary>
/// Holds a LISTEN connection and turns notifications into hints. Reconnects after failures; readers poll meanwhile,
/// so a lost notification delays an event by at most the poll interval.
/// </summary>
internal sealed class PostgresCommitListener : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public PostgresCommitListener(string connectionString, string channel, Action<long> onCommit)
    {
        _loop = Task.Run(() => ListenAsync(connectionString, channel, onCommit, _stop.Token));
    }

    private static async Task ListenAsync(string connectionString, string channel, Action<long> onCommit, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(stop);
                // The payload is the newest sequence of the commit that notified.
                connection.Notification += (_, notification) =>
                    onCommit(long.TryParse(notification.Payload, out var sequence) ? sequence : long.MaxValue);
                await using (var listen = new NpgsqlCommand($"LISTEN {channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stop);
                }

                onCommit(long.MaxValue); // anything committed while we were not listening
                while (!stop.IsCancellationRequested)
                {
                    await connection.WaitAsync(stop);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (NpgsqlException)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stop).ContinueWith(static _ => { }, TaskScheduler.Default);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
