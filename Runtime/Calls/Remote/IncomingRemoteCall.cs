using System.Diagnostics;
using System.Text.Json;
using Orchestration.Runtime.Transport;

namespace Orchestration.Runtime.Calls.Remote;

/// <summary>
/// A call from another process, queued on an activation here. It is its own answer: the turn that runs it serializes
/// the result while it still holds the activation (so the grain's next turn cannot change it, and no copy is needed)
/// and sends the answer frame when its book-keeping is done; no task and no thread-pool hop lie between the grain's
/// result and the frame. Answers once: a timeout, a deactivation or a failure may come first.
/// </summary>
internal sealed class IncomingRemoteCall(
    GrainMethod method, object?[] arguments, long sentAt, Activity? span, SiloResponder responder, JsonSerializerOptions json) : IGrainMessage
{
    private byte[]? _answer;
    private int _answered;

    public GrainMethod Method { get; } = method;

    public object?[] Arguments { get; } = arguments;

    public long SentAt { get; } = sentAt;

    public bool IsCompleted => Volatile.Read(ref _answered) != 0;

    /// <summary>The span of this call in this process, a child of the remote caller's (only while someone listens to traces).</summary>
    public Activity? Caller { get; } = span;

    public void TakeResult(Task finished)
    {
        try
        {
            _answer = finished.IsCompletedSuccessfully
                ? RemoteCallCodec.WriteCompleted(Method.ReadResult(finished), Method.ResultType, json)
                : RemoteCallCodec.WriteFailed(finished.IsCanceled ? new TaskCanceledException(finished) : finished.Exception!.InnerException!, json);
        }
        catch (Exception exception)
        {
            _answer = RemoteCallCodec.WriteFailed(exception, json); // a result that does not serialize
        }
    }

    public void Complete() => Answer(_answer ?? throw new InvalidOperationException("Complete came before TakeResult."));

    public void CompleteFromJson(ReadOnlySpan<byte> result, JsonSerializerOptions options)
    {
        if (!IsCompleted)
        {
            Answer(RemoteCallCodec.WriteCompleted(result));
        }
    }

    public void Fail(Exception exception)
    {
        if (!IsCompleted)
        {
            Answer(RemoteCallCodec.WriteFailed(exception, json));
        }
    }

    private void Answer(byte[] answer)
    {
        if (Interlocked.Exchange(ref _answered, 1) != 0)
        {
            return;
        }

        if (Caller is { } span)
        {
            // Stopping a span makes its parent current; the thread that answers goes on with its own.
            var current = Activity.Current;
            span.Dispose();
            Activity.Current = current;
        }

        responder.Respond(answer);
    }
}
