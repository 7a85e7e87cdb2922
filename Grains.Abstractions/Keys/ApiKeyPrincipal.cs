namespace Orchestration.Grains.Keys;

/// <summary>Who an authenticated request acts as.</summary>
public sealed record ApiKeyPrincipal(string KeyId, string OrgId, ApiKeyRole Role, string? AgentId);
