using System.Text.Json;

namespace Orchestration.Grains.Tasks;

/// <summary>Creates a task. The Api has validated ranges; the grain checks them again.</summary>
/// <param name="Title">A short title.</param>
/// <param name="Description">What to do, in more words.</param>
/// <param name="Priority">0–100, higher first.</param>
/// <param name="MaxAttempts">At least 1: after this many failed or lost attempts the task is dead-lettered.</param>
/// <param name="RequiredCapabilities">Only agents with all of these may claim it.</param>
/// <param name="DependsOn">Tasks (same organisation) that must complete first.</param>
/// <param name="Input">Free-form JSON for the agent.</param>
/// <param name="LeaseSeconds">How long a claim (or the last progress) keeps the lease.</param>
/// <param name="WorkflowId">The workflow it belongs to, if any.</param>
public sealed record CreateTask(
    string Title,
    string? Description,
    int Priority,
    IReadOnlyList<string> RequiredCapabilities,
    IReadOnlyList<string> DependsOn,
    JsonElement? Input,
    int MaxAttempts,
    int LeaseSeconds,
    string? WorkflowId)
{
    /// <summary>
    /// Names the request that creates the task across its runs (the id its <c>Idempotency-Key</c> reserved), and is kept
    /// with the task: creating it again under the same token answers the task, since the earlier run that created it
    /// was never answered; under any other token, or none, it is <see cref="ProblemCodes.AlreadyExists"/>.
    /// </summary>
    public string? CreationToken { get; init; }
}
