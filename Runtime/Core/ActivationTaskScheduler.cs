namespace Orchestration.Runtime.Core;

/// <summary>
/// Runs an interleaving activation's code one task at a time. Grain code that awaits captures this scheduler, so every
/// continuation of every interleaved call comes back here: calls interleave at awaits but never run in parallel.
/// </summary>
internal sealed class ActivationTaskScheduler : TaskScheduler, IThreadPoolWorkItem
{
    private readonly Queue<Task> _tasks = new();
    private bool _draining;

    public Task<Task> Start(Func<Task> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this);

    protected override void QueueTask(Task task)
    {
        lock (_tasks)
        {
            _tasks.Enqueue(task);
            if (_draining)
            {
                return;
            }

            _draining = true;
        }

        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    public void Execute()
    {
        while (true)
        {
            Task task;
            lock (_tasks)
            {
                if (!_tasks.TryDequeue(out task!))
                {
                    _draining = false;
                    return;
                }
            }

            TryExecuteTask(task);
        }
    }

    // Never inline: a continuation run inline (say, inside TrySetResult) would nest one call's code in the middle of
    // another's turn. Queued, it runs after the current piece of code ends.
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks()
    {
        lock (_tasks)
        {
            return _tasks.ToArray();
        }
    }
}
