namespace Orchestration.Api.Contracts;

/// <summary>The body of <c>POST /api/v1/orgs</c>.</summary>
internal sealed record CreateOrgRequest(string? Id, string? Name);

/// <summary>The body of <c>PUT /api/v1/settings</c>; an absent field keeps its current value.</summary>
internal sealed record OrgSettingsRequest(int? HeartbeatIntervalSeconds, int? MissedHeartbeatsAllowed, int? RateLimitPerSecond, int? RateLimitBurst);

/// <summary>A new organisation and its first admin key, shown only here.</summary>
internal sealed record OrgCreated(string Id, string Name, string AdminKey);
