using Orchestration.Runtime;

namespace Orchestration.Grains.Organisations;

/// <summary>One organisation (key: its id). Projected to the <c>orgs</c> collection.</summary>
public interface IOrganisationGrain : IGrainWithStringKey
{
    /// <summary>Creates the organisation; <see cref="ProblemCodes.AlreadyExists"/> when it exists.</summary>
    Task<OrganisationView> CreateAsync(string name);

    /// <summary>The organisation; <see cref="ProblemCodes.NotFound"/> when it does not exist.</summary>
    Task<OrganisationView> GetAsync();

    /// <summary>The organisation's settings (the defaults when it does not exist).</summary>
    Task<OrganisationSettings> GetSettingsAsync();

    /// <summary>Replaces the settings; <see cref="ProblemCodes.NotFound"/> when it does not exist.</summary>
    Task<OrganisationView> UpdateSettingsAsync(OrganisationSettings settings);
}
