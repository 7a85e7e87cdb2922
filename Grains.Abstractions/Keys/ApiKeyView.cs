namespace Orchestration.Grains.Keys;

/// <summary>An API key without its secret.</summary>
/// <param name="Id">The key's id (not secret).</param>
/// <param name="OrgId">The organisation it acts in.</param>
/// <param name="Name">A label chosen by its creator.</param>
/// <param name="Role">What it may do.</param>
/// <param name="AgentId">For <see cref="ApiKeyRole.Agent"/> keys, the one agent it may act as.</param>
/// <param name="CreatedAt">When it was issued.</param>
/// <param name="RevokedAt">When it was revoked; <c>null</c> while it works.</param>
public sealed record ApiKeyView(string Id, string OrgId, string Name, ApiKeyRole Role, string? AgentId, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);
