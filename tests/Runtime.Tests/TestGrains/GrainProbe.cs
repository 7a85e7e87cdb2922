using System.Collections.Concurrent;

namespace Orchestration.Runtime.Tests.TestGrains;

/// <summary>What test grains report about themselves: lifecycle events and values, with waiters for each.</summary>
public sealed class GrainProbe
{
    private readonly ConcurrentQueue<string> _events = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _signals = new();

    public IReadOnlyList<string> Events => [.. _events];

    public void Record(string entry)
    {
        _events.Enqueue(entry);
        Waiter(entry).TrySetResult();
    }

    public int Count(string entry) => _events.Count(recorded => recorded == entry);

    /// <summary>Completes when <paramref name="entry"/> has been recorded (at any time, before or after the call).</summary>
    public Task WaitForAsync(string entry) => Waiter(entry).Task.WaitAsync(TimeSpan.FromSeconds(20));

    /// <summary>
    /// A signal whose awaiters resume on the thread that sets it, before <c>TrySetResult</c> returns (unlike the waiters
    /// above): a test sets it at a precise point of the runtime's work, and a grain's continuation is queued right there.
    /// </summary>
    public TaskCompletionSource Signal(string name) => _signals.GetOrAdd(name, _ => new TaskCompletionSource());

    private TaskCompletionSource Waiter(string entry) =>
        _waiters.GetOrAdd(entry, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
}
