namespace Orchestration.Runtime.Activations;

/// <summary>
/// The activation's <see cref="TaskScheduler"/>, as in Orleans: grain code runs inside a task of this scheduler, so every
/// <c>await</c> (and every <c>Task.Factory.StartNew</c>) in it comes back here, and the activation runs the queued
/// tasks one at a time. Calls interleave at awaits but never run in parallel. <c>ConfigureAwait(false)</c> and
/// <c>Task.Run</c> leave the activation, as they do in Orleans.
/// </summary>
internal sealed class ActivationTaskScheduler(ActivationData activation) : TaskScheduler
{
    private Task? _startingInline;

    /// <summary>Runs <paramref name="task"/> now, on this thread, as a task of this scheduler. Only the pump calls it.</summary>
    public void RunInline(Task task)
    {
        // Start() binds the task to this scheduler and hands it to QueueTask, which lets this one task through unqueued.
        _startingInline = task;
        task.Start(this);
        _startingInline = null;
        TryExecuteTask(task);
    }

    /// <summary>Runs a task that was queued to this scheduler. Only the pump calls it.</summary>
    public void Run(Task task) => TryExecuteTask(task);

    protected override void QueueTask(Task task)
    {
        if (ReferenceEquals(task, _startingInline))
        {
            return;
        }

        activation.EnqueueTask(task);
    }

    // Never inline: a continuation run inline (say, inside TrySetResult on another activation's turn) would run this
    // activation's code on a thread that is not its pump, in parallel with it.
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks() => activation.GetQueuedTasks();
}
