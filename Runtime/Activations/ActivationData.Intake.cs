using Orchestration.Runtime.Calls;

namespace Orchestration.Runtime.Activations;

/// <summary>What reaches the activation from outside its turn loop: calls, timer ticks and continuations of its code.</summary>
internal sealed partial class ActivationData
{
    /// <summary>Messages waiting: exact under the lock; read without it (a gauge, tests' waits), approximate.</summary>
    public int QueuedCount => _queue.Count + (_interleaving?.Count ?? 0);

    /// <summary>Whether the activation is gone for good (it never changes back).</summary>
    public bool IsInvalid
    {
        get
        {
            lock (_queue)
            {
                return _status == ActivationStatus.Invalid;
            }
        }
    }

    /// <summary>
    /// Queues a message. False when the activation is gone; the caller then sends it again. A call that finds the hard
    /// limit reached is failed here at once (and counts as handled); a timer tick for an activation on its way out is
    /// dropped, so no later activation ever runs the old instance's callback.
    /// </summary>
    public bool TryEnqueue(IGrainMessage message)
    {
        bool schedule;
        var held = 0;
        var rejected = false;
        var warn = false;
        var options = _runtime.Options;
        lock (_queue)
        {
            if (_status == ActivationStatus.Invalid)
            {
                return false;
            }

            if (message.Method.IsCallback && (_status >= ActivationStatus.Deactivating || _pendingDeactivation is not null))
            {
                return true;
            }

            // An interleaving call on a non-reentrant grain waits apart, so it can pass calls blocked behind a running one.
            var queue = message.Method.AlwaysInterleave && !_class.IsReentrant ? _interleaving ??= new Queue<IGrainMessage>() : _queue;
            if (message.Method.IsCallback)
            {
                queue.Enqueue(message);
                schedule = TryClaimPumpLocked();
            }
            else
            {
                ref var requests = ref RequestsOfLaneLocked(message);
                held = requests;
                if (held >= options.MaxEnqueuedRequestsHardLimit)
                {
                    rejected = true;
                    schedule = false;
                }
                else
                {
                    queue.Enqueue(message);
                    requests++;
                    if (requests >= options.MaxEnqueuedRequestsSoftLimit && !_overSoftLimit)
                    {
                        _overSoftLimit = warn = true;
                    }

                    schedule = TryClaimPumpLocked();
                }
            }
        }

        if (rejected)
        {
            message.Fail(new GrainOverloadedException(GrainId, message.Method.Name, held));
            return true;
        }

        if (warn)
        {
            LogRequestsOverSoftLimit(_runtime.Logger, GrainId, held + 1, options.MaxEnqueuedRequestsSoftLimit);
        }

        if (schedule)
        {
            SchedulePump();
        }

        return true;
    }

    /// <summary>
    /// The count the overload limits apply to, as in Orleans: requests running plus requests waiting, so calls that all
    /// run at once and then wait (a reentrant grain's long-polls, interleaving calls) fill it as queued calls do. Unlike
    /// Orleans, [AlwaysInterleave] calls are counted apart, with the same limits, so calls held open never lock out a
    /// short interleaving call (a status read, an offer to a long-polled queue). Timer ticks are neither counted nor
    /// rejected: they are the activation's own turns, not requests (Orleans too exempts them from rejection), and a timer
    /// has at most one tick queued or running. There are no other system messages; a call whose caller ignores the
    /// answer is a request like any other. Caller holds the lock.
    /// </summary>
    private ref int RequestsOfLaneLocked(IGrainMessage message)
    {
        if (message.Method.AlwaysInterleave)
        {
            return ref _interleavingRequests;
        }

        return ref _requests;
    }

    /// <summary>A request left the activation: answered, expired before it started, or handed on. Caller holds the lock.</summary>
    private void ReleaseRequestLocked(IGrainMessage message)
    {
        if (message.Method.IsCallback)
        {
            return;
        }

        RequestsOfLaneLocked(message)--;
        if (_overSoftLimit && Math.Max(_requests, _interleavingRequests) < _runtime.Options.MaxEnqueuedRequestsSoftLimit)
        {
            _overSoftLimit = false;
        }
    }

    /// <summary>Queues a continuation of this activation's code (called by its scheduler).</summary>
    public void EnqueueTask(Task task)
    {
        bool schedule;
        lock (_queue)
        {
            (_tasks ??= new Queue<Task>()).Enqueue(task);
            schedule = !_pumpClaimed;
            _pumpClaimed = true;
        }

        if (schedule)
        {
            SchedulePump();
        }
    }

    public IEnumerable<Task> GetQueuedTasks()
    {
        lock (_queue)
        {
            return _tasks?.ToArray() ?? [];
        }
    }
}
