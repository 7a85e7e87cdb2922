namespace Orchestration.Grains.Organisations;

/// <summary>An organisation as clients see it.</summary>
public sealed record OrganisationView(string Id, string Name, DateTimeOffset CreatedAt, OrganisationSettings Settings);
