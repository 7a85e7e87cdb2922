using System.Collections.Concurrent;

namespace Orchestration.Runtime.Tests.TestGrains;

/// <summary>What test grains report about themselves: lifecycle events and values, with waiters for each.</summary>
public sealed class GrainProbe
{
    private readonly ConcurrentQueue<string> _events = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new();

    public IReadOnlyList<string> Events => [.. _events];

    public void Record(string entry)
    {
        _events.Enqueue(entry);
        Waiter(entry).TrySetResult();
    }

    public int Count(string entry) => _events.Count(recorded => recorded == entry);

    /// <summary>Completes when <paramref name="entry"/> has been recorded (at any time, before or after the call).</summary>
    public Task WaitForAsync(string entry) => Waiter(entry).Task.WaitAsync(TimeSpan.FromSeconds(20));

    private TaskCompletionSource Waiter(string entry) =>
        _waiters.GetOrAdd(entry, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
}
