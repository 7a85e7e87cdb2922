using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Orchestration.Runtime.Persistence;

/// <summary>
/// A fixed set of dedicated connections, one per commit slot, each holding the commit statement explicitly prepared.
/// Commits drawn from a general pool were spread over every backend the pool had ever opened (a hundred after an
/// activation storm), and a backend's first calls cost several times a warm one (function compiled, catalogs cached,
/// statement planned, fresh memory touched): a fixed set keeps every commit on a few warm backends, and
/// <see cref="OpenAsync"/> pays the warm-up at start-up instead of during the first seconds of load.
/// A connection that breaks is replaced, with its warm-up, by the next commit that needs it.
/// </summary>
internal sealed partial class PostgresCommitConnections : IAsyncDisposable
{
    /// <summary>The commit connections' <c>application_name</c>, to find them in <c>pg_stat_activity</c>.</summary>
    public const string ApplicationName = "orchestration-commit";

    /// <summary>
    /// PL/pgSQL plans a statement inside a function with custom plans for its first five executions before it settles on
    /// a plan; six warm-up calls leave every statement of the commit function past that phase.
    /// </summary>
    private const int WarmUpCalls = 6;

    private readonly string _connectionString;
    private readonly string _commandText;
    private readonly Action<NpgsqlParameterCollection> _bindWarmUp;
    private readonly ILogger _logger;
    private readonly Slot[] _slots;
    private readonly Channel<Slot> _idle;

    /// <param name="connectionString">The storage's connection string; pooling is turned off, the connections are held here.</param>
    /// <param name="count">How many commits may run at once.</param>
    /// <param name="commandText">The commit statement, prepared once per connection.</param>
    /// <param name="bindWarmUp">Binds a representative commit; warm-up runs it in a transaction that is rolled back.</param>
    /// <param name="logger">Where replaced connections are reported.</param>
    public PostgresCommitConnections(string connectionString, int count, string commandText, Action<NpgsqlParameterCollection> bindWarmUp, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        _connectionString = new NpgsqlConnectionStringBuilder(connectionString)
        {
            ApplicationName = ApplicationName,
            // A pooled connection would come back unprepared on another backend; these live as long as the storage.
            Pooling = false,
        }.ConnectionString;
        _commandText = commandText;
        _bindWarmUp = bindWarmUp;
        _logger = logger;
        _slots = Enumerable.Range(0, count).Select(_ => new Slot()).ToArray();
        _idle = Channel.CreateBounded<Slot>(count);
        foreach (var slot in _slots)
        {
            _idle.Writer.TryWrite(slot);
        }
    }

    /// <summary>Opens, prepares and warms every connection.</summary>
    public async Task OpenAsync(CancellationToken cancellationToken)
    {
        var slots = new List<Slot>(_slots.Length);
        try
        {
            for (var i = 0; i < _slots.Length; i++)
            {
                slots.Add(await _idle.Reader.ReadAsync(cancellationToken).ConfigureAwait(false));
            }

            await Task.WhenAll(slots.Select(slot => EnsureOpenAsync(slot, cancellationToken))).ConfigureAwait(false);
        }
        finally
        {
            foreach (var slot in slots)
            {
                _idle.Writer.TryWrite(slot);
            }
        }
    }

    /// <summary>
    /// Runs the commit statement with <paramref name="bind"/>'s parameters and hands its single row to
    /// <paramref name="read"/>. A commit that fails because its backend was terminated before the statement produced
    /// its row cannot have committed (the row comes before the commit), so it runs once more on a new connection; any
    /// other failure is thrown, and a broken connection is replaced before its slot is used again.
    /// </summary>
    public async Task ExecuteAsync(Action<NpgsqlParameterCollection> bind, Action<NpgsqlDataReader> read, CancellationToken cancellationToken)
    {
        var slot = await _idle.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                await EnsureOpenAsync(slot, cancellationToken).ConfigureAwait(false);
                var rowReceived = false;
                try
                {
                    var command = slot.Command!;
                    command.Parameters.Clear();
                    bind(command.Parameters);
                    await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        throw new InvalidOperationException("The commit statement returned no row.");
                    }

                    rowReceived = true;
                    read(reader);
                    return;
                }
                catch (Exception exception) when (slot.IsBroken)
                {
                    await slot.CloseAsync().ConfigureAwait(false);
                    if (rowReceived || attempt > 1 || !IsBackendTerminated(exception))
                    {
                        throw;
                    }

                    LogReplacingTerminated(_logger, exception);
                }
            }
        }
        finally
        {
            _idle.Writer.TryWrite(slot);
        }
    }

    /// <summary>The backend ids of the open commit connections (for tests and diagnostics).</summary>
    internal IReadOnlyList<int> BackendProcessIds =>
        _slots.Select(slot => slot.Connection).OfType<NpgsqlConnection>().Where(connection => connection.State == System.Data.ConnectionState.Open)
            .Select(connection => connection.ProcessID).ToArray();

    /// <summary>Whether every open commit connection still holds the commit statement prepared (for tests).</summary>
    internal bool AllPrepared => _slots.All(slot => slot.Command is { IsPrepared: true });

    public async ValueTask DisposeAsync()
    {
        foreach (var slot in _slots)
        {
            await slot.CloseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// <c>pg_terminate_backend</c>, or a server shutting down, ends a backend with <c>admin_shutdown</c> (57P01) and a
    /// proper error message; a crash or a cut network gives no such guarantee about what committed, so it is not retried.
    /// </summary>
    private static bool IsBackendTerminated(Exception exception) => exception is PostgresException { SqlState: PostgresErrorCodes.AdminShutdown };

    private async Task EnsureOpenAsync(Slot slot, CancellationToken cancellationToken)
    {
        if (slot.Command is not null && !slot.IsBroken)
        {
            return;
        }

        await slot.CloseAsync().ConfigureAwait(false);
        var connection = new NpgsqlConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            var command = new NpgsqlCommand(_commandText, connection);
            _bindWarmUp(command.Parameters);
            // Explicit preparation: the parameter types are fixed by the warm-up binding, and every later binding uses the
            // same types, so the statement is parsed and described once per connection instead of after five uses.
            await command.PrepareAsync(cancellationToken).ConfigureAwait(false);
            await using (var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
            {
                command.Transaction = transaction;
                for (var i = 0; i < WarmUpCalls; i++)
                {
                    await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                    }
                }

                // Nothing of the warm-up may remain: no state row, no event, no notification.
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                command.Transaction = null;
            }

            slot.Connection = connection;
            slot.Command = command;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A commit connection's backend was terminated before the commit ran; retrying it once on a new connection")]
    private static partial void LogReplacingTerminated(ILogger logger, Exception exception);

    private sealed class Slot
    {
        public NpgsqlConnection? Connection { get; set; }

        public NpgsqlCommand? Command { get; set; }

        public bool IsBroken => Connection is null
            || Connection.FullState == System.Data.ConnectionState.Closed
            || Connection.FullState.HasFlag(System.Data.ConnectionState.Broken);

        public async Task CloseAsync()
        {
            if (Command is not null)
            {
                await Command.DisposeAsync().ConfigureAwait(false);
                Command = null;
            }

            if (Connection is not null)
            {
                await Connection.DisposeAsync().ConfigureAwait(false);
                Connection = null;
            }
        }
    }
}
