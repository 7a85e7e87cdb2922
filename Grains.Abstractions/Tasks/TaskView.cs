using System.Text.Json;

namespace Orchestration.Grains.Tasks;

/// <summary>A task as clients see it (API.md, "Tasks").</summary>
/// <param name="Id">The task's id within its organisation.</param>
/// <param name="Title">A short title.</param>
/// <param name="Description">What to do, in more words.</param>
/// <param name="Priority">0–100, higher first.</param>
/// <param name="RequiredCapabilities">Only agents with all of these may claim it.</param>
/// <param name="DependsOn">Tasks that must complete first.</param>
/// <param name="Status">Where it is in its lifecycle.</param>
/// <param name="Attempt">0 until the first claim; each claim adds 1. It is the fencing token of the current lease.</param>
/// <param name="MaxAttempts">After this many failed or lost attempts it is dead-lettered.</param>
/// <param name="LeaseSeconds">How long a claim (or the last progress) keeps the lease.</param>
/// <param name="Lease">The current lease; <c>null</c> when nobody holds it.</param>
/// <param name="Input">Free-form JSON for the agent.</param>
/// <param name="Output">What the agent returned on completion.</param>
/// <param name="Error">The last failure's message.</param>
/// <param name="Progress">The last progress reported in this attempt; percent and message <c>null</c> before the first.</param>
/// <param name="WorkflowId">The workflow it belongs to, if any.</param>
/// <param name="BlockedReason">Why a blocked task waits (for example a cancelled dependency); <c>null</c> otherwise.</param>
/// <param name="NextAttemptAt">When a failed task becomes ready again; <c>null</c> when no retry is pending.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="UpdatedAt">When it last changed.</param>
public sealed record TaskView(
    string Id,
    string Title,
    string? Description,
    int Priority,
    IReadOnlyList<string> RequiredCapabilities,
    IReadOnlyList<string> DependsOn,
    TaskLifecycleStatus Status,
    int Attempt,
    int MaxAttempts,
    int LeaseSeconds,
    TaskLease? Lease,
    JsonElement? Input,
    JsonElement? Output,
    string? Error,
    TaskProgress? Progress,
    string? WorkflowId,
    string? BlockedReason,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>
    /// The last progress reported in this attempt, <see cref="TaskProgress.None"/> before the first: never <c>null</c>,
    /// also when read from a projection row written before progress was always an object.
    /// </summary>
    public TaskProgress Progress { get; init => field = value ?? TaskProgress.None; } = Progress ?? TaskProgress.None;
}
