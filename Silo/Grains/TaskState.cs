using System.Text.Json;
using Orchestration.Grains.Tasks;

namespace Orchestration.Silo.Grains;

/// <summary>The persisted state of <see cref="TaskGrain"/>.</summary>
internal sealed class TaskState
{
    public bool Created { get; set; }

    /// <summary>The creating request's <see cref="CreateTask.CreationToken"/>.</summary>
    public string? CreationToken { get; set; }

    public string Title { get; set; } = string.Empty;

    public string? Description { get; set; }

    public int Priority { get; set; }

    public List<string> RequiredCapabilities { get; set; } = [];

    public List<string> DependsOn { get; set; } = [];

    /// <summary>The last final status heard from each dependency (absent: not finished yet).</summary>
    public Dictionary<string, TaskLifecycleStatus> FinishedDependencies { get; set; } = [];

    /// <summary>Tasks to tell when this one reaches a final status.</summary>
    public List<string> Dependents { get; set; } = [];

    public TaskLifecycleStatus Status { get; set; }

    /// <summary>Claims so far: the fencing token of the current lease.</summary>
    public int Attempt { get; set; }

    /// <summary>Attempts that count against <see cref="MaxAttempts"/> (failed or lost; a release does not count).</summary>
    public int CountedAttempts { get; set; }

    public int MaxAttempts { get; set; }

    public int LeaseSeconds { get; set; }

    public string? LeaseAgentId { get; set; }

    /// <summary>The claim's <see cref="Orchestration.Grains.Tasks.ClaimTask.ClaimToken"/>, while its lease lasts.</summary>
    public string? LeaseClaimToken { get; set; }

    public DateTimeOffset? LeaseExpiresAt { get; set; }

    public JsonElement? Input { get; set; }

    public JsonElement? Output { get; set; }

    public string? Error { get; set; }

    public TaskProgress? Progress { get; set; }

    public string? WorkflowId { get; set; }

    public string? BlockedReason { get; set; }

    public DateTimeOffset? NextAttemptAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}
