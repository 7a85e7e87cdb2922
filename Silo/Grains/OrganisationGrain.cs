using System.Text.Json;
using Orchestration.Grains;
using Orchestration.Grains.Organisations;
using Orchestration.Runtime;
using Orchestration.Runtime.Projections;

namespace Orchestration.Silo.Grains;

/// <summary>One organisation; its row in the <c>orgs</c> collection lists it for the platform.</summary>
[GrainType("organisation")]
internal sealed class OrganisationGrain(
    [PersistentState("organisation")] IPersistentState<OrganisationState> organisation,
    TimeProvider timeProvider) : Grain, IOrganisationGrain
{
    public const string Collection = "orgs";

    private string OrgId => GetPrimaryKeyString();

    public async Task<OrganisationView> CreateAsync(string name, string? creationToken)
    {
        if (organisation.RecordExists)
        {
            if (CreationTokens.Match(organisation.State.CreationToken, creationToken, OrgId))
            {
                return View();
            }

            throw new OrchestrationException(ProblemCodes.AlreadyExists, $"Organisation '{OrgId}' already exists.");
        }

        organisation.State = new OrganisationState { Name = name, CreatedAt = timeProvider.GetUtcNow(), CreationToken = creationToken };
        return await SaveAsync();
    }

    public Task<OrganisationView> GetAsync() => Task.FromResult(View());

    public Task<OrganisationSettings> GetSettingsAsync() => Task.FromResult(organisation.State.Settings);

    public async Task<OrganisationView> UpdateSettingsAsync(OrganisationSettings settings)
    {
        _ = View();
        if (settings.HeartbeatIntervalSeconds < 1 || settings.MissedHeartbeatsAllowed < 1 || settings.RateLimitPerSecond < 1 || settings.RateLimitBurst < 1)
        {
            throw new OrchestrationException(ProblemCodes.InvalidRequest, "Every organisation setting must be at least 1.");
        }

        organisation.State.Settings = settings;
        return await SaveAsync();
    }

    private async Task<OrganisationView> SaveAsync()
    {
        var view = View();
        Project(new ProjectionRow(Collection, OrgId, OrgId, JsonSerializer.Serialize(view, GrainContractsJsonContext.Default.OrganisationView)));
        await organisation.WriteStateAsync();
        return view;
    }

    private OrganisationView View() => organisation.State.Name is { } name
        ? new OrganisationView(OrgId, name, organisation.State.CreatedAt, organisation.State.Settings)
        : throw new OrchestrationException(ProblemCodes.NotFound, $"Organisation '{OrgId}' does not exist.");
}
