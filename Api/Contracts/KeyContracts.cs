using Orchestration.Grains.Keys;

namespace Orchestration.Api.Contracts;

/// <summary>The body of <c>POST /api/v1/keys</c>; <c>agentId</c> is required for (and only for) the <c>agent</c> role.</summary>
internal sealed record CreateKeyRequest(string? Name, ApiKeyRole? Role, string? AgentId);

/// <summary>A new key; <see cref="Key"/> is shown only here.</summary>
internal sealed record KeyCreated(string Id, string Name, ApiKeyRole Role, string? AgentId, string Key);
