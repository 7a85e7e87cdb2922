using System.Data.Common;
using Npgsql;

namespace Orchestration.Runtime.Persistence;

/// <summary>
/// The pool that serves everything but commits: activation reads, event-log reads, cursors, health checks.
/// </summary>
internal static class PostgresReadPool
{
    /// <summary>
    /// The read pool's size unless the connection string sets <c>Maximum Pool Size</c>. These are point reads of well
    /// under a millisecond, so a few connections keep the server's cores busy; Npgsql's default of 100 lets an
    /// activation storm (a thousand grains waking at once) fork a hundred backends, each paying its cold start (catalog
    /// caches, fresh memory) and competing for the same cores as the commits, for no gain in throughput. Eight leaves
    /// headroom for a slow event-log scan or a reader stalled on a cold page while point reads keep flowing; a read
    /// that finds all eight busy waits in Npgsql's queue (up to the connection's <c>Timeout</c>), it does not fail.
    /// </summary>
    public const int DefaultMaxConnections = 8;

    public static NpgsqlDataSource Build(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        if (!SetsMaxPoolSize(connectionString))
        {
            builder.ConnectionStringBuilder.MaxPoolSize = DefaultMaxConnections;
        }

        // Npgsql resets a pooled connection's session (seven statements, parsed and run by the server, ahead of its next
        // command) whenever it goes back to the pool: more server work than a point read. Nothing here leaves session
        // state behind: the tenant and the reader role are set per transaction (set_config(..., true), SET LOCAL), locks
        // are transaction locks, LISTEN has its own connection, and an open transaction is still rolled back on return.
        builder.ConnectionStringBuilder.NoResetOnClose = true;

        if (builder.ConnectionStringBuilder.MaxAutoPrepare == 0)
        {
            // Hot statements are planned once per connection instead of on every call.
            builder.ConnectionStringBuilder.MaxAutoPrepare = 16;
        }

        return builder.Build();
    }

    /// <summary>
    /// Opens <paramref name="connections"/> of the pool's connections at once (never more than its maximum), prepares
    /// <paramref name="sql"/> on each and runs it once: the backends' cold start (fork, catalog caches, fresh memory) and
    /// the statement's parse and plan happen at start-up instead of in the first activations' reads. The connections go
    /// back to the pool open, the statement still prepared (Npgsql keeps it on the physical connection, and a later
    /// unprepared command with the same text and parameter types uses it).
    /// </summary>
    public static async Task WarmAsync(
        NpgsqlDataSource dataSource, int connections, string sql, Action<NpgsqlParameterCollection> bind, CancellationToken cancellationToken)
    {
        var count = Math.Min(connections, new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).MaxPoolSize);
        var opening = Enumerable.Range(0, count).Select(_ => dataSource.OpenConnectionAsync(cancellationToken).AsTask()).ToArray();
        try
        {
            await Task.WhenAll(opening).ConfigureAwait(false);
            await Task.WhenAll(opening.Select(async open =>
            {
                await using var command = new NpgsqlCommand(sql, open.Result);
                bind(command.Parameters);
                await command.PrepareAsync(cancellationToken).ConfigureAwait(false);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            })).ConfigureAwait(false);
        }
        finally
        {
            foreach (var open in opening.Where(open => open.IsCompletedSuccessfully))
            {
                await open.Result.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Whether the connection string chooses the pool size itself (under any of Npgsql's spellings).</summary>
    internal static bool SetsMaxPoolSize(string connectionString)
    {
        var keys = new DbConnectionStringBuilder { ConnectionString = connectionString }.Keys.Cast<string>();
        return keys.Any(key => key.Replace(" ", string.Empty, StringComparison.Ordinal).ToUpperInvariant() is "MAXIMUMPOOLSIZE" or "MAXPOOLSIZE");
    }
}
