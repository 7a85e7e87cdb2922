namespace Orchestration.Runtime.Streams;

/// <summary>Reads the durable event log from outside grains, for example to serve Server-Sent Events.</summary>
public interface IStreamLog
{
    /// <summary>The sequence of the newest event this process knows to be committed (0 when the log is empty).</summary>
    long LastSequence { get; }

    /// <summary>
    /// The sequence of the newest event committed to storage, by this process or any other (0 when the log is empty): the
    /// live end of the log. <see cref="LastSequence"/> trails it while another process's commits are on their way here.
    /// (The default, for logs of one process, is <see cref="LastSequence"/>.)
    /// </summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken = default) => Task.FromResult(LastSequence);

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

    /// <summary>
    /// Like <see cref="FollowAsync"/>, in batches (a page of history, or whatever committed since the previous batch), for
    /// a consumer that passes each batch on at once, such as a network stream flushed once per batch. At most
    /// <paramref name="liveBufferSize"/> live events wait for the consumer; a consumer that falls further behind sees the
    /// enumeration end after the last event it was given, and resumes from there with a new follow when it can.
    /// </summary>
    /// <param name="afterSequence">Start after this sequence; 0 for the whole log.</param>
    /// <param name="streamNamespace">Only events of this namespace; <c>null</c> for all.</param>
    /// <param name="tenant">Only events of this tenant; <c>null</c> for all.</param>
    /// <param name="liveBufferSize">The most live events held for this consumer.</param>
    /// <param name="cancellationToken">Stops following.</param>
    IAsyncEnumerable<IReadOnlyList<StreamEvent>> FollowUntilBehindAsync(
        long afterSequence, string? streamNamespace, string? tenant, int liveBufferSize, CancellationToken cancellationToken = default);
}
