using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Orchestration.Grains;
using Orchestration.Grains.Keys;
using Orchestration.Runtime;
using Orchestration.Runtime.Projections;

namespace Orchestration.Silo.Grains;

/// <summary>One API key, listed in its organisation's <c>keys</c> collection (without the hash).</summary>
[GrainType("api-key")]
internal sealed class ApiKeyGrain(
    [PersistentState("key")] IPersistentState<ApiKeyState> key,
    TimeProvider timeProvider) : Grain, IApiKeyGrain
{
    public const string Collection = "keys";

    private string KeyId => GetPrimaryKeyString();

    public async Task<ApiKeyView> IssueAsync(IssueApiKey request)
    {
        if (key.RecordExists)
        {
            throw new OrchestrationException(ProblemCodes.AlreadyExists, $"API key '{KeyId}' already exists.");
        }

        if ((request.Role == ApiKeyRole.Agent) != (request.AgentId is not null))
        {
            throw new OrchestrationException(ProblemCodes.InvalidRequest, "An agent key needs an agentId, and only an agent key may have one.");
        }

        key.State = new ApiKeyState
        {
            OrgId = request.OrgId,
            Name = request.Name,
            Role = request.Role,
            AgentId = request.AgentId,
            SecretHash = request.SecretHash,
            CreatedAt = timeProvider.GetUtcNow(),
        };
        return await SaveAsync();
    }

    public async Task<ApiKeyView> ReissueAsync(IssueApiKey request)
    {
        var state = key.State;
        if (!key.RecordExists)
        {
            throw NotFound();
        }

        if (state.OrgId != request.OrgId || state.Name != request.Name || state.Role != request.Role
            || state.AgentId != request.AgentId)
        {
            throw new OrchestrationException(ProblemCodes.AlreadyExists, $"API key '{KeyId}' already exists.");
        }

        if (state.RevokedAt is not null)
        {
            throw new OrchestrationException(ProblemCodes.InvalidTransition, $"API key '{KeyId}' was revoked and stays revoked.");
        }

        state.SecretHash = request.SecretHash;
        return await SaveAsync();
    }

    public Task<ApiKeyPrincipal?> AuthenticateAsync(string secretHash)
    {
        var state = key.State;
        var matches = state.OrgId is not null
            && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(state.SecretHash), Encoding.ASCII.GetBytes(secretHash));
        return Task.FromResult(matches && state.RevokedAt is null ? new ApiKeyPrincipal(KeyId, state.OrgId!, state.Role, state.AgentId) : null);
    }

    public Task<ApiKeyView> GetAsync() => Task.FromResult(View());

    public async Task RevokeAsync(string orgId)
    {
        if (key.State.OrgId != orgId)
        {
            throw NotFound();
        }

        if (key.State.Role == ApiKeyRole.Platform)
        {
            // No key can issue another platform key: revoking the only one would leave nobody able to create organisations.
            throw new OrchestrationException(ProblemCodes.InvalidTransition, $"Key '{KeyId}' is the platform key and cannot be revoked.");
        }

        if (key.State.RevokedAt is null)
        {
            key.State.RevokedAt = timeProvider.GetUtcNow();
            await SaveAsync();
        }
    }

    private async Task<ApiKeyView> SaveAsync()
    {
        var view = View();
        Project(new ProjectionRow(Collection, view.OrgId, KeyId, JsonSerializer.Serialize(view, GrainContractsJsonContext.Default.ApiKeyView))
        {
            Status = view.RevokedAt is null ? "active" : "revoked",
        });
        await key.WriteStateAsync();
        return view;
    }

    private ApiKeyView View()
    {
        var state = key.State;
        return state.OrgId is null
            ? throw NotFound()
            : new ApiKeyView(KeyId, state.OrgId, state.Name, state.Role, state.AgentId, state.CreatedAt, state.RevokedAt);
    }

    private OrchestrationException NotFound() => new(ProblemCodes.NotFound, $"API key '{KeyId}' does not exist.");
}
