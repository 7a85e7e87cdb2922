using System.Text.Json;

namespace Orchestration.Api.Contracts;

/// <summary>The body of <c>POST /api/v1/tasks</c>.</summary>
internal sealed record CreateTaskRequest(
    string? Id,
    string? Title,
    string? Description,
    int? Priority,
    IReadOnlyList<string?>? RequiredCapabilities,
    IReadOnlyList<string?>? DependsOn,
    JsonElement? Input,
    int? MaxAttempts,
    int? LeaseSeconds,
    string? WorkflowId);

/// <summary>The body of <c>POST /api/v1/tasks/claim</c>.</summary>
internal sealed record ClaimNextTaskRequest(string? AgentId, int? WaitSeconds);

/// <summary>The body of <c>POST /api/v1/tasks/{id}/claim</c>.</summary>
internal sealed record ClaimTaskRequest(string? AgentId);

/// <summary>The body of <c>POST /api/v1/tasks/{id}/progress</c>.</summary>
internal sealed record ProgressRequest(string? AgentId, int? Attempt, int? Percent, string? Message);

/// <summary>The body of <c>POST /api/v1/tasks/{id}/complete</c>.</summary>
internal sealed record CompleteRequest(string? AgentId, int? Attempt, JsonElement? Output);

/// <summary>The body of <c>POST /api/v1/tasks/{id}/fail</c>.</summary>
internal sealed record FailRequest(string? AgentId, int? Attempt, string? Error, bool? Retryable);

/// <summary>The body of <c>POST /api/v1/tasks/{id}/release</c>.</summary>
internal sealed record ReleaseRequest(string? AgentId, int? Attempt);

/// <summary>The body of <c>POST /api/v1/tasks/{id}/cancel</c>.</summary>
internal sealed record CancelRequest(string? Reason);
