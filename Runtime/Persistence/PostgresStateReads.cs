using System.Threading.Channels;
using Npgsql;

namespace Orchestration.Runtime.Persistence;

/// <summary>
/// Grain state reads, gathered: while <see cref="Concurrency"/> reads are in flight, the next ones queue and leave
/// together in one query, so an activation storm (a thousand grains waking at once) costs a handful of round trips and
/// statement executions instead of a thousand; a lone read still goes at once. Each read sees committed state as of its
/// query, as a point read would: a read queued behind others is answered by a later query, never an earlier one.
/// </summary>
internal sealed class PostgresStateReads : IAsyncDisposable
{
    /// <summary>Queries in flight at once; the rest of the read pool stays free for event-log and other reads.</summary>
    public const int Concurrency = 4;

    /// <summary>Keys per query: enough to take a storm in a few rounds, small enough to answer within a few milliseconds.</summary>
    private const int MaxBatchSize = 256;

    /// <summary>
    /// The read; <c>ord</c> numbers the keys from 1, so each row finds its reader. A key with no live row returns nothing.
    /// One primary-key lookup per key (a lateral subquery, kept apart by its <c>LIMIT</c>: the key is unique), as
    /// <c>orch_commit</c> locks its rows: a join let the planner hash the keys and scan the whole table whenever a batch
    /// was large next to the table's statistics.
    /// </summary>
    internal const string Sql = """
        SELECT i.ord, s.data::text, s.version
        FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS i(grain_type, grain_key, state_name, ord)
        CROSS JOIN LATERAL (
            SELECT g.data, g.version FROM orch_grain_state g
            WHERE g.grain_type = i.grain_type AND g.grain_key = i.grain_key AND g.state_name = i.state_name AND g.data IS NOT NULL
            LIMIT 1) s
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly Channel<PendingRead> _queue = Channel.CreateUnbounded<PendingRead>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _slots = new(Concurrency);
    private readonly Task _loop;

    public PostgresStateReads(NpgsqlDataSource dataSource)
    {
        _dataSource = dataSource;
        _loop = Task.Run(RunAsync);
    }

    public Task<GrainStateRecord?> ReadAsync(GrainStateKey key, CancellationToken cancellationToken)
    {
        var pending = new PendingRead(key);
        if (!_queue.Writer.TryWrite(pending))
        {
            return Task.FromException<GrainStateRecord?>(new ObjectDisposedException(nameof(PostgresGrainStorage)));
        }

        // A cancelled reader stops waiting; its key still rides along in the query it joined.
        return cancellationToken.CanBeCanceled ? pending.Task.WaitAsync(cancellationToken) : pending.Task;
    }

    /// <summary>
    /// Binds the read's parameters: the three key columns as arrays. Also how start-up prepares the statement on each
    /// warmed connection (with no keys), so the first storm finds it parsed and planned.
    /// </summary>
    public static void Bind(NpgsqlParameterCollection parameters, IReadOnlyList<GrainStateKey> keys)
    {
        parameters.Add(new NpgsqlParameter { Value = keys.Select(key => key.GrainType).ToArray() });
        parameters.Add(new NpgsqlParameter { Value = keys.Select(key => key.GrainKey).ToArray() });
        parameters.Add(new NpgsqlParameter { Value = keys.Select(key => key.StateName).ToArray() });
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            await _slots.WaitAsync().ConfigureAwait(false);
            var batch = new List<PendingRead>();
            while (batch.Count < MaxBatchSize && reader.TryRead(out var next))
            {
                batch.Add(next);
            }

            _ = ReadBatchAsync(batch);
        }

        // Drain: the reads in flight finish before the loop does.
        for (var i = 0; i < Concurrency; i++)
        {
            await _slots.WaitAsync().ConfigureAwait(false);
        }
    }

    private async Task ReadBatchAsync(List<PendingRead> batch)
    {
        try
        {
            await using var command = _dataSource.CreateCommand(Sql);
            Bind(command.Parameters, batch.ConvertAll(pending => pending.Key));
            var found = new GrainStateRecord?[batch.Count];
            await using (var reader = await command.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
                {
                    found[reader.GetInt64(0) - 1] = new GrainStateRecord(reader.GetString(1), reader.GetInt64(2));
                }
            }

            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].TrySetResult(found[i]);
            }
        }
        catch (Exception exception)
        {
            foreach (var pending in batch)
            {
                pending.TrySetException(exception);
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private sealed class PendingRead(GrainStateKey key) : TaskCompletionSource<GrainStateRecord?>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public GrainStateKey Key { get; } = key;
    }
}
