using System.Collections.Concurrent;

namespace Orchestration.Runtime.Tests.TestGrains;

/// <summary>A grain whose call blocks the thread it runs on (not just its turn) until its gate opens.</summary>
public interface IThreadBlockingGrain : IGrainWithStringKey
{
    Task BlockThreadAsync(string gate);
}

public sealed class ThreadBlockingGrain : Grain, IThreadBlockingGrain
{
    private static readonly ConcurrentDictionary<string, ManualResetEventSlim> s_gates = new();

    /// <summary>The gate a call named <paramref name="name"/> blocks on; set by the test that made it. Whether one is blocked there.</summary>
    public static ManualResetEventSlim Gate(string name) => s_gates.GetOrAdd(name, _ => new ManualResetEventSlim());

    public static ManualResetEventSlim Entered(string name) => Gate($"{name}:entered");

    public Task BlockThreadAsync(string gate)
    {
        Entered(gate).Set();
        Gate(gate).Wait(TimeSpan.FromSeconds(30));
        return Task.CompletedTask;
    }
}
