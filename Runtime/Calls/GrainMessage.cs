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

    /// <summary>Completes the caller from the grain method's finished task (result, fault or cancellation).</summary>
    void CompleteFrom(Task finished);

    /// <summary>Completes the caller with a result another process sent as JSON (null: a call without a result).</summary>
    void CompleteFromJson(System.Text.Json.JsonElement? result, System.Text.Json.JsonSerializerOptions options);

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

    public void CompleteFrom(Task finished)
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
                    TrySetException(exception);
                    return;
                }
            }

            TrySetResult(result);
        }
        else if (finished.IsCanceled)
        {
            TrySetCanceled();
        }
        else
        {
            // Unwrap so the caller sees the grain's own exception type and message.
            TrySetException(finished.Exception!.InnerExceptions.Count == 1 ? finished.Exception.InnerException! : finished.Exception);
        }
    }

    public void CompleteFromJson(System.Text.Json.JsonElement? result, System.Text.Json.JsonSerializerOptions options)
    {
        try
        {
            TrySetResult(result is { } json ? System.Text.Json.JsonSerializer.Deserialize<TResult>(json, options)! : default!);
        }
        catch (Exception exception)
        {
            TrySetException(exception);
        }
    }

    public void Fail(Exception exception) => TrySetException(exception);
}
