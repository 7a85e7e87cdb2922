namespace Orchestration.Grains.Keys;

/// <summary>Stores a new API key. The secret itself never reaches a grain: only its SHA-256 hash.</summary>
/// <param name="OrgId">The organisation it acts in.</param>
/// <param name="Name">A label.</param>
/// <param name="Role">What it may do.</param>
/// <param name="AgentId">Required for <see cref="ApiKeyRole.Agent"/> keys, absent otherwise.</param>
/// <param name="SecretHash">Lower-case hex SHA-256 of the whole key string.</param>
public sealed record IssueApiKey(string OrgId, string Name, ApiKeyRole Role, string? AgentId, string SecretHash);
