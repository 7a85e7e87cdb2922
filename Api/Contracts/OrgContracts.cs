namespace Orchestration.Api.Contracts;

/// <summary>The body of <c>POST /api/v1/orgs</c>.</summary>
internal sealed record CreateOrgRequest(string? Id, string? Name);

/// <summary>A new organisation and its first admin key, shown only here.</summary>
internal sealed record OrgCreated(string Id, string Name, string AdminKey);
