using Orchestration.Runtime.Calls;

namespace Orchestration.Runtime.Activations;

/// <summary>What reaches the activation from outside its turn loop: calls, timer ticks and continuations of its code.</summary>
internal sealed partial class ActivationData
{
    /// <summary>Messages waiting; read without the lock, so approximate (it feeds a gauge and tests' waits).</summary>
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

    private int QueuedCountLocked => _queue.Count + (_interleaving?.Count ?? 0);

    /// <summary>
    /// Queues a message. False when the activation is gone; the caller then sends it again. A call past the hard limit
    /// is failed here at once (and counts as handled); a timer tick for an activation on its way out is dropped, so
    /// no later activation ever runs the old instance's callback.
    /// </summary>
    public bool TryEnqueue(IGrainMessage message)
    {
        bool schedule;
        int queued;
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

            // An interleaving call on a non-reentrant grain waits apart, so it can pass calls blocked behind a running one;
            // its queue has a limit of its own, so a full main queue never locks out, say, a status read.
            var queue = message.Method.AlwaysInterleave && !_class.IsReentrant ? _interleaving ??= new Queue<IGrainMessage>() : _queue;
            queued = queue.Count;
            if (queued >= options.MaxEnqueuedRequestsHardLimit && !message.Method.IsCallback)
            {
                rejected = true;
                schedule = false;
            }
            else
            {
                queue.Enqueue(message);

                if (queued + 1 >= options.MaxEnqueuedRequestsSoftLimit && !_overSoftLimit)
                {
                    _overSoftLimit = warn = true;
                }

                schedule = TryClaimPumpLocked();
            }
        }

        if (rejected)
        {
            message.Fail(new GrainOverloadedException(GrainId, message.Method.Name, queued));
            return true;
        }

        if (warn)
        {
            LogQueueOverSoftLimit(_runtime.Logger, GrainId, queued + 1, options.MaxEnqueuedRequestsSoftLimit);
        }

        if (schedule)
        {
            SchedulePump();
        }

        return true;
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
