using System.Text.Json;

namespace Orchestration.Api.Contracts;

/// <summary>The body of <c>POST /api/v1/agents</c>.</summary>
internal sealed record RegisterAgentRequest(
    string? Id,
    string? Name,
    IReadOnlyList<string?>? Capabilities,
    string? Model,
    int? MaxConcurrentTasks,
    JsonElement? Metadata);
