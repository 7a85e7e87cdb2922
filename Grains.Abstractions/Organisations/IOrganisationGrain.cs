using Orchestration.Runtime;

namespace Orchestration.Grains.Organisations;

/// <summary>One organisation (key: its id). Projected to the <c>orgs</c> collection.</summary>
public interface IOrganisationGrain : IGrainWithStringKey
{
    /// <summary>
    /// Creates the organisation; <see cref="ProblemCodes.AlreadyExists"/> when it exists, unless it was created under the
    /// same <paramref name="creationToken"/> (the id the request's <c>Idempotency-Key</c> reserved): then an earlier run
    /// of this request created it and was never answered, and this run answers it.
    /// </summary>
    Task<OrganisationView> CreateAsync(string name, string? creationToken);

    /// <summary>The organisation; <see cref="ProblemCodes.NotFound"/> when it does not exist.</summary>
    Task<OrganisationView> GetAsync();

    /// <summary>The organisation's settings (the defaults when it does not exist).</summary>
    Task<OrganisationSettings> GetSettingsAsync();

    /// <summary>Replaces the settings; <see cref="ProblemCodes.NotFound"/> when it does not exist.</summary>
    Task<OrganisationView> UpdateSettingsAsync(OrganisationSettings settings);
}
