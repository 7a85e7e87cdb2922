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

    public PostgresCommitListener(string connectionString, string channel, Action onCommit)
    {
        _loop = Task.Run(() => ListenAsync(connectionString, channel, onCommit, _stop.Token));
    }

    private static async Task ListenAsync(string connectionString, string channel, Action onCommit, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(stop);
                connection.Notification += (_, _) => onCommit();
                await using (var listen = new NpgsqlCommand($"LISTEN {channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stop);
                }

                onCommit(); // anything committed while we were not listening
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
