using Orchestration.Bench;

namespace Orchestration.Product.Bench;

/// <summary>
/// The task.lifecycle workload, the same for the product and its baseline. Before measuring, <see cref="Backlog"/>
/// ready tasks are created, so every claim picks from a real queue. Then each of <see cref="Agents"/> closed loops is
/// one agent that, in turn, creates a task (it is its own producer), claims the best ready task (usually another
/// agent's) and completes it. One operation is one whole lifecycle: the rate is completed tasks per second, each
/// created, claimed and completed inside the measured window, and the backlog stays at its size.
/// </summary>
internal static class TaskLifecycle
{
    public const int Agents = 32;
    public const int Backlog = 1_024;

    /// <summary>
    /// Measures; with <paramref name="counters"/>, prints what one lifecycle cost the runtime (backlog excluded); with
    /// <paramref name="database"/>, also the database backends' CPU per lifecycle.
    /// </summary>
    public static async Task<Throughput> MeasureAsync(ITaskBoard board, Settings settings, RuntimeCounters? counters = null, string? database = null)
    {
        await Task.WhenAll(Enumerable.Range(0, Agents).Select(async agent =>
        {
            for (var i = 0; i < Backlog / Agents; i++)
            {
                await board.CreateAsync(agent, $"backlog-{agent}-{i}");
            }
        }));

        long created = 0;
        long completed = 0;
        counters?.Reset();
        var rate = await Measure.ThroughputAsync(Agents, settings, async agent =>
        {
            await board.CreateAsync(agent, $"task-{Interlocked.Increment(ref created)}");
            // Every claim follows its agent's own create, so the backlog never runs dry: an empty claim is a bug.
            var claimed = await board.ClaimAsync(agent) ?? throw new InvalidOperationException($"Agent {agent} found no ready task in a backlog of {Backlog}.");
            await board.CompleteAsync(agent, claimed);
            Interlocked.Increment(ref completed);
        }, database is null ? null : () => PostgresBackendCpu.ReadAsync(database));
        if (counters is not null)
        {
            Console.Error.WriteLine(counters.Snapshot(Math.Max(1, Interlocked.Read(ref completed))));
        }

        return rate;
    }
}
