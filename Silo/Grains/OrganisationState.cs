using Orchestration.Grains.Organisations;

namespace Orchestration.Silo.Grains;

/// <summary>The persisted state of <see cref="OrganisationGrain"/>.</summary>
internal sealed class OrganisationState
{
    public string? Name { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The creating request's token (see <see cref="IOrganisationGrain.CreateAsync"/>).</summary>
    public string? CreationToken { get; set; }

    public OrganisationSettings Settings { get; set; } = new();
}
