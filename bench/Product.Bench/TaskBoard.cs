namespace Orchestration.Product.Bench;

/// <summary>A task an agent holds: its id and the attempt that fences its completion.</summary>
internal sealed record ClaimedTask(string TaskId, int Attempt);

/// <summary>
/// A task system as producers and agents see it: the product (through its grains or its HTTP API) or the raw-SQL
/// baseline. Agent <c>i</c> of <see cref="TaskLifecycle.Agents"/> always calls from the same connection or client.
/// </summary>
internal interface ITaskBoard : IAsyncDisposable
{
    /// <summary>Creates a ready task that any agent may claim.</summary>
    Task CreateAsync(int agent, string taskId);

    /// <summary>Claims the best ready task for the agent (highest priority, then oldest); <c>null</c> when none is ready.</summary>
    Task<ClaimedTask?> ClaimAsync(int agent);

    /// <summary>Completes a task the agent holds.</summary>
    Task CompleteAsync(int agent, ClaimedTask task);
}
