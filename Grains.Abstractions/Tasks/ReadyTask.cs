namespace Orchestration.Grains.Tasks;

/// <summary>What the queue keeps in memory about a claimable task.</summary>
public sealed record ReadyTask(string TaskId, int Priority, IReadOnlyList<string> RequiredCapabilities, DateTimeOffset CreatedAt);
