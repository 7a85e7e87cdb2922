using System.Diagnostics;
using Orchestration.Runtime.Calls;

namespace Orchestration.Runtime.Activations;

/// <summary>
/// The turn loop (the "pump"): one thread-pool work item at a time runs everything the activation has to do, one piece
/// at a time: continuations of code already running and new calls take turns, lifecycle steps come before new calls,
/// and new calls start as far as the grain's concurrency allows (one at a time, or interleaved at awaits).
/// </summary>
internal sealed partial class ActivationData : IThreadPoolWorkItem
{
    private const int MaxStepsPerPump = 64;

    private static readonly Action<object?> s_drain = static state => ((ActivationData)state!).Drain();

    private enum Step : byte
    {
        None,
        Continuation,
        Activate,
        Deactivate,
        Discard,
        Call,
    }

    private int RunningCount => _running?.Count ?? 0;

    // The pump runs its loop inside a task of the activation's scheduler, so TaskScheduler.Current is the activation's for
    // all grain code it starts, and that code's awaits come back to this loop.
    void IThreadPoolWorkItem.Execute() => _scheduler.RunInline(new Task(s_drain, this));

    private void SchedulePump() => ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);

    private void Drain()
    {
        for (var steps = 0; ; steps++)
        {
            Step step;
            Task? continuation;
            IGrainMessage? message;
            DeactivationReason reason;
            lock (_queue)
            {
                if (steps == MaxStepsPerPump && HasWorkLocked())
                {
                    // Keep the pump but go to the back of the thread pool's queue: one busy grain must not starve others.
                    SchedulePump();
                    return;
                }

                step = TakeNextLocked(out continuation, out message, out reason);
                if (step == Step.None)
                {
                    _pumpClaimed = false;
                    return;
                }
            }

            try
            {
                RunStep(step, continuation, message, reason);
            }
            catch (Exception exception)
            {
                // Steps are async methods and tasks that keep their own exceptions; reaching here is a runtime bug. Log it
                // and keep the loop alive rather than leave the pump claimed by a loop that has died.
                LogTurnLoopFailed(_runtime.Logger, GrainId, exception);
            }
        }
    }

    private void RunStep(Step step, Task? continuation, IGrainMessage? message, DeactivationReason reason)
    {
        switch (step)
        {
            case Step.Continuation:
                _scheduler.Run(continuation!);
                break;
            case Step.Activate:
                _ = ActivateAsync();
                break;
            case Step.Deactivate:
                _ = DeactivateAsync(reason);
                break;
            case Step.Discard:
                HandOnAndInvalidate();
                break;
            default:
                if (message!.Method.KeepsAlive)
                {
                    _lastActiveAt = _runtime.TimeProvider.GetTimestamp();
                }

                _ = RunAsync(message);
                break;
        }
    }

    /// <summary>Decides the next piece of work and marks it taken. Caller holds the lock.</summary>
    private Step TakeNextLocked(out Task? continuation, out IGrainMessage? message, out DeactivationReason reason)
    {
        continuation = null;
        message = null;
        reason = default;
        // Continuations and new calls take turns, so a call that keeps yielding cannot starve an interleaving call or tick.
        if (_tasks is { Count: > 0 } && !(_callsTurn && CanStartCallLocked()))
        {
            _callsTurn = true;
            continuation = _tasks.Dequeue();
            return Step.Continuation;
        }

        _callsTurn = false;

        if (_status == ActivationStatus.Created)
        {
            // Asked to leave before it ever ran (say, created on a silo that no longer owns the grain): it never activates.
            _status = _pendingDeactivation is null ? ActivationStatus.Activating : ActivationStatus.Deactivating;
            return _pendingDeactivation is null ? Step.Activate : Step.Discard;
        }

        if (_status == ActivationStatus.Valid && _pendingDeactivation is { } pending && RunningCount == 0)
        {
            _status = ActivationStatus.Deactivating;
            reason = pending;
            return Step.Deactivate;
        }

        while (CanStartCallLocked())
        {
            var next = _interleaving is { Count: > 0 } ? _interleaving.Dequeue() : _queue.Dequeue();
            if (next.IsCompleted)
            {
                ReleaseRequestLocked(next); // timed out while queued
                continue;
            }

            (_running ??= new List<IGrainMessage>(1)).Add(next);
            message = next;
            return Step.Call;
        }

        return Step.None;
    }

    private bool CanStartCallLocked() =>
        _status == ActivationStatus.Valid
        && _pendingDeactivation is null
        && (_interleaving is { Count: > 0 } || (_queue.Count > 0 && (RunningCount == 0 || _class.IsReentrant)));

    private bool HasWorkLocked() =>
        _tasks is { Count: > 0 }
        || _status == ActivationStatus.Created
        || (_status == ActivationStatus.Valid && _pendingDeactivation is not null && RunningCount == 0)
        || CanStartCallLocked();

    /// <summary>Claims the right to run the turn loop if there is work and nobody holds it. Caller holds the lock.</summary>
    private bool TryClaimPumpLocked()
    {
        if (_pumpClaimed || !HasWorkLocked())
        {
            return false;
        }

        _pumpClaimed = true;
        return true;
    }

    /// <summary>Starts the turn loop if something became runnable while nobody ran it.</summary>
    private void Wake()
    {
        bool schedule;
        lock (_queue)
        {
            schedule = TryClaimPumpLocked();
        }

        if (schedule)
        {
            SchedulePump();
        }
    }

    private async Task RunAsync(IGrainMessage message)
    {
        var call = new CallContext(this);
        CallContext.Enter(call);
        var startedAt = _runtime.Instruments.CallsObserved ? Stopwatch.GetTimestamp() : 0;
        Activity? activity = null;
        Exception? failure = null;
        try
        {
            activity = RuntimeInstruments.StartCall(GrainId, message.Method, message.Caller);
            Task invocation;
            if (_instance is IIncomingGrainCallFilter filter && !message.Method.IsCallback)
            {
                invocation = await FilteredCall.InvokeAsync(filter, _instance, message);
            }
            else
            {
                invocation = message.Method.Invoke(_instance!, message.Arguments);
                await invocation;
            }

            // Taken (copied, or serialized for a remote caller) before the commit: its await lets other calls, timer
            // ticks and left-running work of this activation run, and they may change the object the method returned.
            message.TakeResult(invocation);
            await CommitAndFinishAsync(call);
        }
        catch (Exception exception)
        {
            failure = exception;
            activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
        }
        finally
        {
            activity?.Dispose();
        }

        if (failure is not null)
        {
            call.Finish(failed: true); // (a call that succeeded finished itself with its last commit)
        }

        if (startedAt != 0)
        {
            _runtime.Instruments.RecordCall(_class.TypeName, message.Method.Name, Stopwatch.GetElapsedTime(startedAt), failure is not null);
        }

        // Book-keeping first: when the caller resumes, the activation already counts this call as finished.
        bool schedule;
        lock (_queue)
        {
            _running!.Remove(message);
            ReleaseRequestLocked(message);
            schedule = TryClaimPumpLocked();
        }

        if (schedule)
        {
            SchedulePump();
        }

        if (failure is null)
        {
            message.Complete();
        }
        else
        {
            message.Fail(failure);
        }
    }
}
