namespace Orchestration.Runtime.Streams;

/// <summary>Reads the durable event log from outside grains, for example to serve Server-Sent Events.</summary>
public interface IStreamLog
{
    /// <summary>The sequence of the newest event this process knows to be committed (0 when the log is empty).</summary>
    long LastSequence { get; }

    /// <summary>Reads up to <paramref name="limit"/> committed events after <paramref name="afterSequence"/>, oldest first.</summary>
    /// <param name="afterSequence">Start after this sequence; 0 for the whole log.</param>
    /// <param name="limit">The most events to return.</param>
    /// <param name="tenant">
    /// Only events of this tenant (see <see cref="Projections.TenantKey"/>); <c>null</c> for all. On PostgreSQL a tenant's
    /// read also runs under row-level security bound to that tenant.
    /// </param>
    /// <param name="cancellationToken">Cancels the read.</param>
    Task<IReadOnlyList<StreamEvent>> ReadAsync(long afterSequence, int limit, string? tenant = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Yields every event after <paramref name="afterSequence"/> (history first, then live as they commit, in this or another
    /// process) until cancelled. Nothing is skipped or repeated across the switch from history to live.
    /// </summary>
    /// <param name="afterSequence">Start after this sequence; 0 for the whole log.</param>
    /// <param name="streamNamespace">Only events of this namespace; <c>null</c> for all.</param>
    /// <param name="tenant">Only events of this tenant; <c>null</c> for all.</param>
    /// <param name="cancellationToken">Stops following.</param>
    IAsyncEnumerable<StreamEvent> FollowAsync(long afterSequence, string? streamNamespace = null, string? tenant = null, CancellationToken cancellationToken = default);
}
