using System.Text.Json;

namespace Orchestration.Grains.Agents;

/// <summary>An agent as clients see it (API.md, "Agents").</summary>
public sealed record AgentView(
    string Id,
    string Name,
    IReadOnlyList<string> Capabilities,
    string? Model,
    AgentStatus Status,
    DateTimeOffset LastHeartbeatAt,
    IReadOnlyList<string> ActiveTaskIds,
    int CompletedCount,
    int FailedCount,
    decimal CostUsd,
    DateTimeOffset RegisteredAt,
    int MaxConcurrentTasks,
    JsonElement? Metadata);
