using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Streams;

namespace Orchestration.Runtime.Persistence;

/// <summary>
/// A storage provider: grain state with versions, the event log, projections, reminders and stream cursors. Every
/// provider passes the same conformance tests.
/// </summary>
internal interface IGrainStorage : IAsyncDisposable
{
    /// <summary><c>Memory</c>, <c>Sqlite</c> or <c>Postgres</c>.</summary>
    string ProviderName { get; }

    /// <summary>How many commits may run at once.</summary>
    int MaxConcurrentCommits { get; }

    /// <summary>Creates or migrates the schema; safe to run from several processes at once.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    Task<GrainStateRecord?> ReadStateAsync(GrainStateKey key, CancellationToken cancellationToken);

    /// <summary>
    /// Commits all writes in one transaction. A write whose version check fails is marked <see cref="StorageWrite.Conflict"/>
    /// and contributes nothing; the others commit. Events get contiguous sequences in commit order, each recorded with its
    /// tenant (<see cref="TenantKey.Of"/> of its stream key); projection changes apply in batch order.
    /// Throws when the transaction fails as a whole.
    /// </summary>
    Task CommitAsync(IReadOnlyList<StorageWrite> writes, CancellationToken cancellationToken);

    Task<IReadOnlyList<StreamEvent>> ReadEventsAsync(long afterSequence, int limit, CancellationToken cancellationToken);

    /// <summary>Like <see cref="ReadEventsAsync"/>, only <paramref name="tenant"/>'s events (on PostgreSQL under row-level security).</summary>
    Task<IReadOnlyList<StreamEvent>> ReadTenantEventsAsync(string tenant, long afterSequence, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// One page of projection rows, ordered by id then tenant (ordinal); the query is already validated. A query for one
    /// tenant runs on PostgreSQL under row-level security.
    /// </summary>
    Task<ProjectionPage> QueryProjectionsAsync(ProjectionQuery query, CancellationToken cancellationToken);

    Task<ProjectionRow?> ReadProjectionAsync(string collection, string tenant, string id, CancellationToken cancellationToken);

    /// <summary>The newest committed event's sequence (0 when the log is empty).</summary>
    Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Every periodic reminder, and the one-shot reminders due by <paramref name="dueBy"/> (every one, when null): the
    /// schedule holds only what falls due soon, so neither it nor its periodic reload grows with reminders set far ahead.
    /// </summary>
    Task<IReadOnlyList<ReminderEntry>> ReadRemindersAsync(DateTimeOffset? dueBy, CancellationToken cancellationToken);

    /// <summary>The last sequence a stream subscriber processed (0 when none).</summary>
    Task<long> ReadCursorAsync(string subscriber, CancellationToken cancellationToken);

    Task WriteCursorAsync(string subscriber, long sequence, CancellationToken cancellationToken);

    /// <summary>Throws when storage is unreachable.</summary>
    Task CheckHealthAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Calls <paramref name="onCommit"/> with the newest sequence when another process (or silo) may have committed
    /// events. A hint only: readers also poll.
    /// </summary>
    IAsyncDisposable WatchCommits(Action<long> onCommit);
}
