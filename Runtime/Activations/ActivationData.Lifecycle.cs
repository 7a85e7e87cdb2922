using Orchestration.Runtime.Calls;

namespace Orchestration.Runtime.Activations;

/// <summary>
/// Activation, deactivation and collection. Activation and deactivation are steps of the turn loop like calls: they run
/// outside the lock, on the activation's scheduler, and no call starts while they run.
/// </summary>
internal sealed partial class ActivationData
{
    private async Task ActivateAsync()
    {
        var step = new CallContext(this);
        CallContext.Enter(step);
        try
        {
            _instance = _class.Create(_runtime.Services, this);
            if (_states is not null)
            {
                await Task.WhenAll(_states.Select(state => state.ReadAsync()));
            }

            await _instance.OnActivateAsync(_runtime.ShutdownToken);
            await CommitAndFinishAsync(step);
            _runtime.Instruments.ActivationCreated(_class.TypeName);
            lock (_queue)
            {
                _status = ActivationStatus.Valid;
            }

            Wake();
        }
        catch (Exception exception)
        {
            step.Finish(failed: true);
            LogActivationFailed(_runtime.Logger, GrainId, exception);
            DisposeTimers();
            foreach (var message in Invalidate())
            {
                message.Fail(exception);
            }
        }
    }

    private async Task DeactivateAsync(DeactivationReason reason)
    {
        var step = new CallContext(this);
        CallContext.Enter(step);
        try
        {
            DisposeTimers();
            if (reason == DeactivationReason.OwnershipLost)
            {
                return; // discarded: its partition is another silo's now, so nothing it did here could be stored
            }

            // A grain that overruns is cancelled and, if it ignores that, abandoned: the activation goes regardless.
            var timeout = _runtime.Options.DeactivationTimeout;
            using var timedOut = new CancellationTokenSource(timeout, _runtime.TimeProvider);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_runtime.ShutdownToken, timedOut.Token);
            var deactivating = _instance!.OnDeactivateAsync(reason, deadline.Token);
            await Task.WhenAny(deactivating, Task.Delay(Timeout.InfiniteTimeSpan, timedOut.Token));
            if (!deactivating.IsCompleted)
            {
                throw new TimeoutException($"OnDeactivateAsync did not finish within {timeout.TotalSeconds:0.###} s; the activation is discarded.");
            }

            await deactivating;
            await CommitAndFinishAsync(step);
        }
        catch (Exception exception)
        {
            LogDeactivationFailed(_runtime.Logger, GrainId, reason, exception);
        }
        finally
        {
            step.Finish(failed: true); // no-op once the step committed; otherwise what it raised goes with it
            _runtime.Instruments.ActivationRemoved(_class.TypeName);
            HandOnAndInvalidate();
        }
    }

    /// <summary>Invalidates the activation and sends the calls it still held to its successor; its timer ticks die with it.</summary>
    private void HandOnAndInvalidate()
    {
        foreach (var message in Invalidate())
        {
            if (message.Method.IsCallback)
            {
                message.Fail(new OperationCanceledException("The activation was deactivated."));
            }
            else
            {
                Redeliver(message);
            }
        }
    }

    private void Redeliver(IGrainMessage message)
    {
        try
        {
            _runtime.Dispatcher.Deliver(GrainId, message);
        }
        catch (Exception exception)
        {
            message.Fail(exception); // say why (say, no silo left) rather than leave the caller waiting
        }
    }

    private void DisposeTimers()
    {
        if (_timers is not null)
        {
            foreach (var timer in _timers.ToArray())
            {
                timer.Dispose();
            }
        }
    }

    /// <summary>Marks the activation gone, removes it from the directory and returns the messages it still held.</summary>
    /// <remarks>Runs inside the turn loop, which keeps its claim on the pump: continuations still queued run there later.</remarks>
    private IGrainMessage[] Invalidate()
    {
        IGrainMessage[] leftovers;
        lock (_queue)
        {
            _status = ActivationStatus.Invalid;
            leftovers = [.. _queue, .. _interleaving ?? []];
            _queue.Clear();
            _interleaving?.Clear();
            foreach (var message in leftovers)
            {
                ReleaseRequestLocked(message);
            }
        }

        _runtime.Directory.Remove(this);
        return leftovers;
    }

    /// <summary>Asks for deactivation once running calls finish; queued calls then go to a fresh activation.</summary>
    public void RequestDeactivation(DeactivationReason reason)
    {
        bool schedule;
        lock (_queue)
        {
            if (_status > ActivationStatus.Valid || _pendingDeactivation is not null)
            {
                return;
            }

            _pendingDeactivation = reason;
            schedule = TryClaimPumpLocked();
        }

        if (schedule)
        {
            SchedulePump();
        }
    }

    /// <summary>
    /// Fails calls that have waited longer than <paramref name="timeout"/>, and collects the activation if idle. Timer
    /// ticks have no caller to answer and never time out: a periodic timer re-arms only after its tick has run.
    /// </summary>
    public void Sweep(long now, TimeSpan timeout, TimeSpan idleAge)
    {
        var time = _runtime.TimeProvider;
        List<IGrainMessage>? expired = null;
        bool idle;
        lock (_queue)
        {
            if (_running is not null)
            {
                foreach (var message in _running)
                {
                    if (IsOverdue(message))
                    {
                        (expired ??= []).Add(message);
                    }
                }
            }

            foreach (var message in _interleaving is null ? _queue : _queue.Concat(_interleaving))
            {
                if (IsOverdue(message))
                {
                    (expired ??= []).Add(message);
                }
            }

            idle = _status == ActivationStatus.Valid && RunningCount == 0 && QueuedCount == 0
                && time.GetElapsedTime(_lastActiveAt, now) > idleAge;
        }

        if (expired is not null)
        {
            foreach (var message in expired)
            {
                message.Fail(new GrainCallTimeoutException(GrainId, message.Method.Name, timeout));
            }
        }

        if (idle)
        {
            RequestDeactivation(DeactivationReason.IdleCollection);
        }

        bool IsOverdue(IGrainMessage message) =>
            !message.Method.IsCallback && !message.IsCompleted && time.GetElapsedTime(message.SentAt, now) > timeout;
    }
}
