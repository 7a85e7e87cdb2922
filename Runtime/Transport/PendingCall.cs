namespace Orchestration.Runtime.Transport;

/// <summary>A request waiting for its answer: completed by the read loop, the timeout sweep, the caller's token or a broken connection.</summary>
internal sealed class PendingCall(ClientConnection owner, int id, long deadline, TimeSpan timeout)
    : TaskCompletionSource<ReadOnlyMemory<byte>>(TaskCreationOptions.RunContinuationsAsynchronously)
{
    private int _written;

    public ClientConnection Owner { get; } = owner;

    public int Id { get; } = id;

    /// <summary>In the client's <see cref="TimeProvider"/> timestamps; <see cref="long.MaxValue"/> for none.</summary>
    public long Deadline { get; } = deadline;

    public TimeSpan Timeout { get; } = timeout;

    public CancellationTokenRegistration Cancellation { get; set; }

    public bool Written => Volatile.Read(ref _written) != 0;

    public void MarkWritten() => Volatile.Write(ref _written, 1);
}
