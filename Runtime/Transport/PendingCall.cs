namespace Orchestration.Runtime.Transport;

/// <summary>
/// A request waiting for its answer: completed once, by the read loop, the timeout sweep, the caller's token or a
/// broken connection, whichever comes first (the owner's table of pending calls decides which).
/// </summary>
internal abstract class PendingCall(ClientConnection owner, int id, long deadline, TimeSpan timeout)
{
    private int _written;

    public ClientConnection Owner { get; } = owner;

    public int Id { get; } = id;

    /// <summary>In the client's <see cref="TimeProvider"/> timestamps; <see cref="long.MaxValue"/> for none.</summary>
    public long Deadline { get; } = deadline;

    public TimeSpan Timeout { get; } = timeout;

    public CancellationTokenRegistration Cancellation { get; set; }

    /// <summary>
    /// Whether the server may have read and run this request: its bytes left for the socket before the server's GoAway
    /// had reached this client. A server sends GoAway only once it refuses, unread, every request it reads from then on,
    /// and frames arrive in order, so a request written after the GoAway came was never run, even if the connection
    /// then broke before its refusal arrived.
    /// </summary>
    public bool MayHaveBeenDelivered => Volatile.Read(ref _written) == WrittenBeforeGoAway;

    private const int WrittenBeforeGoAway = 1;
    private const int WrittenAfterGoAway = 2;

    /// <summary>Called by the write loop just before the request's bytes go to the socket.</summary>
    public void MarkWritten() => Volatile.Write(ref _written, Owner.HasReceivedGoAway ? WrittenAfterGoAway : WrittenBeforeGoAway);

    /// <summary>The answer arrived; called on the connection's read loop.</summary>
    public abstract void Answer(ReadOnlyMemory<byte> body);

    public abstract void Fail(Exception exception);

    public abstract void Cancel(CancellationToken token);
}

/// <summary><see cref="SiloTransportClient.SendAsync"/>'s call: its task's continuations run on the thread pool, never on the read loop.</summary>
internal sealed class TaskPendingCall(ClientConnection owner, int id, long deadline, TimeSpan timeout) : PendingCall(owner, id, deadline, timeout)
{
    private readonly TaskCompletionSource<ReadOnlyMemory<byte>> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<ReadOnlyMemory<byte>> Task => _completion.Task;

    public override void Answer(ReadOnlyMemory<byte> body) => _completion.TrySetResult(body);

    public override void Fail(Exception exception) => _completion.TrySetException(exception);

    public override void Cancel(CancellationToken token) => _completion.TrySetCanceled(token);
}

/// <summary><see cref="SiloTransportClient.Send"/>'s call: hands the outcome to its receiver on the thread that learned it.</summary>
internal sealed class ReceiverPendingCall(ClientConnection owner, int id, long deadline, TimeSpan timeout, IAnswerReceiver receiver)
    : PendingCall(owner, id, deadline, timeout)
{
    public override void Answer(ReadOnlyMemory<byte> body) => receiver.OnAnswer(body);

    public override void Fail(Exception exception) => receiver.OnFailure(exception);

    public override void Cancel(CancellationToken token) => receiver.OnFailure(new OperationCanceledException(token));
}
