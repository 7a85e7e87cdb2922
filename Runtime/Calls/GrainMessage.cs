using System.Diagnostics;
using Orchestration.Runtime.Calls.Copying;

namespace Orchestration.Runtime.Calls;

/// <summary>A call waiting for, or running on, an activation.</summary>
internal interface IGrainMessage
{
    GrainMethod Method { get; }

    object?[] Arguments { get; }

    /// <summary>When it was sent (a <see cref="TimeProvider"/> timestamp); the response timeout counts from here.</summary>
    long SentAt { get; }

    bool IsCompleted { get; }

    /// <summary>The caller's span when the call was sent (only while someone listens to traces): the call's parent span.</summary>
    Activity? Caller { get; }

    /// <summary>
    /// Takes the outcome of the grain method's finished task (result, fault or cancellation) while its turn still holds
    /// the activation: a mutable result is copied here (or, for a caller in another process, serialized), so the grain's
    /// next turn cannot change it under the caller. The caller learns it at <see cref="Complete"/>.
    /// </summary>
    void TakeResult(Task finished);

    /// <summary>Completes the caller with what <see cref="TakeResult"/> took (once the activation's book-keeping is done).</summary>
    void Complete();

    /// <summary>
    /// Completes the caller with a result another process sent as JSON (empty: a call without a result). May run on a
    /// transport's read loop: it reads the value and completes, and never runs the caller's code.
    /// </summary>
    void CompleteFromJson(ReadOnlySpan<byte> result, System.Text.Json.JsonSerializerOptions options);

    void Fail(Exception exception);
}

/// <summary>
/// The message is its own completion source: one allocation carries the call and its answer.
/// Continuations run asynchronously so a caller's code never runs on (and blocks) the activation's turn.
/// </summary>
internal sealed class GrainMessage<TResult>(GrainMethod method, object?[] arguments, long sentAt, Activity? caller = null)
    : TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously), IGrainMessage
{
    public GrainMethod Method { get; } = method;

    public object?[] Arguments { get; } = arguments;

    public long SentAt { get; } = sentAt;

    public bool IsCompleted => Task.IsCompleted;

    public Activity? Caller { get; } = caller;

    // What TakeResult took, for Complete; touched only by the turn that ran the call, in that order.
    private TResult _result = default!;
    private Exception? _failure;
    private bool _canceled;

    public void TakeResult(Task finished)
    {
        if (finished.IsCompletedSuccessfully)
        {
            var result = finished is Task<TResult> typed ? typed.Result : default!;
            if (Method.CopiesResult)
            {
                try
                {
                    result = DeepCopier.Copy(result);
                }
                catch (Exception exception)
                {
                    // The caller gets why, rather than waiting for ever: the call is no longer running, so no timeout
                    // would end it.
                    _failure = exception;
                    return;
                }
            }

            _result = result;
        }
        else if (finished.IsCanceled)
        {
            _canceled = true;
        }
        else
        {
            // Unwrap so the caller sees the grain's own exception type and message.
            _failure = finished.Exception!.InnerExceptions.Count == 1 ? finished.Exception.InnerException! : finished.Exception;
        }
    }

    public void Complete()
    {
        if (_failure is not null)
        {
            TrySetException(_failure);
        }
        else if (_canceled)
        {
            TrySetCanceled();
        }
        else
        {
            TrySetResult(_result);
        }
    }

    public void CompleteFromJson(ReadOnlySpan<byte> result, System.Text.Json.JsonSerializerOptions options)
    {
        try
        {
            TrySetResult(result.IsEmpty ? default! : System.Text.Json.JsonSerializer.Deserialize<TResult>(result, options)!);
        }
        catch (Exception exception)
        {
            TrySetException(exception);
        }
    }

    public void Fail(Exception exception) => TrySetException(exception);
}
