using Orchestration.Grains.Keys;

namespace Orchestration.Silo.Grains;

/// <summary>The persisted state of <see cref="ApiKeyGrain"/>: the key's hash, never the key.</summary>
internal sealed class ApiKeyState
{
    public string? OrgId { get; set; }

    public string Name { get; set; } = string.Empty;

    public ApiKeyRole Role { get; set; }

    public string? AgentId { get; set; }

    public string SecretHash { get; set; } = string.Empty;

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }
}
