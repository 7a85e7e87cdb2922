using Microsoft.AspNetCore.Http.HttpResults;
using Orchestration.Api.Auth;
using Orchestration.Api.Contracts;
using Orchestration.Grains;
using Orchestration.Grains.Keys;
using Orchestration.Grains.Organisations;
using Orchestration.Runtime.Projections;

namespace Orchestration.Api.Apis;

/// <summary>
/// <c>/api/v1/keys</c>: the caller's organisation's API keys, for admins; <c>/api/v1/orgs/{orgId}/keys</c>: any
/// organisation's, for the platform key, so that an organisation whose admin keys are all lost or revoked (or whose
/// creation was answered to nobody) can be given a new one.
/// </summary>
internal static class KeysApi
{
    public static IEndpointRouteBuilder MapKeysApi(this IEndpointRouteBuilder routes)
    {
        var keys = routes.MapResourceGroup("/api/v1/keys", "Keys").RequireAuthorization(ApiPolicies.Administer);
        keys.MapPost("", (CreateKeyRequest body, Caller caller, HttpContext context, [AsParameters] ApiServices services) =>
            CreateKeyAsync(caller.OrgId, "/api/v1/keys", body, context, services)).WithName("CreateKey");
        keys.MapGet("", (string? limit, string? cursor, Caller caller, [AsParameters] ApiServices services, CancellationToken cancellationToken) =>
            ListKeysAsync(caller.OrgId, limit, cursor, services, cancellationToken)).WithName("ListKeys");
        keys.MapDelete("{id}", (string id, Caller caller, [AsParameters] ApiServices services) =>
            RevokeKeyAsync(caller.OrgId, id, services)).WithName("RevokeKey");

        var orgKeys = routes.MapResourceGroup("/api/v1/orgs/{orgId}/keys", "Keys").RequireAuthorization(ApiPolicies.Platform);
        orgKeys.MapPost("", async Task<Results<Created<KeyCreated>, ProblemHttpResult>> (
            string orgId, CreateKeyRequest body, HttpContext context, [AsParameters] ApiServices services) =>
            await ExistingOrgAsync(orgId, services) ?? await CreateKeyAsync(orgId, $"/api/v1/orgs/{orgId}/keys", body, context, services)).WithName("CreateOrgKey");
        orgKeys.MapGet("", async Task<Results<Ok<ListPage<ApiKeyView>>, ProblemHttpResult>> (
            string orgId, string? limit, string? cursor, [AsParameters] ApiServices services, CancellationToken cancellationToken) =>
            await ExistingOrgAsync(orgId, services) ?? await ListKeysAsync(orgId, limit, cursor, services, cancellationToken)).WithName("ListOrgKeys");
        orgKeys.MapDelete("{id}", async Task<Results<NoContent, ProblemHttpResult>> (string orgId, string id, [AsParameters] ApiServices services) =>
            await ExistingOrgAsync(orgId, services) ?? await RevokeKeyAsync(orgId, id, services)).WithName("RevokeOrgKey");
        return routes;
    }

    /// <summary>A problem unless <paramref name="orgId"/> names an organisation: 400 for an invalid id, 404 for an unknown one.</summary>
    private static async Task<ProblemHttpResult?> ExistingOrgAsync(string orgId, ApiServices services)
    {
        var validator = new RequestValidator();
        validator.Id("orgId", orgId);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        _ = await services.Grains.GetGrain<IOrganisationGrain>(orgId).GetAsync();
        return null;
    }

    private static async Task<Results<Created<KeyCreated>, ProblemHttpResult>> CreateKeyAsync(
        string orgId, string keysPath, CreateKeyRequest body, HttpContext context, ApiServices services)
    {
        var validator = new RequestValidator();
        validator.Text("name", body.Name, 200);
        if (body.Role is null)
        {
            validator.Add("role", "is required: viewer, agent, operator or admin.");
        }
        else if (body.Role == ApiKeyRole.Platform)
        {
            validator.Add("role", "platform keys cannot be issued; use viewer, agent, operator or admin.");
        }

        if (body.Role == ApiKeyRole.Agent)
        {
            validator.Id("agentId", body.AgentId);
        }
        else if (body.AgentId is not null)
        {
            validator.Add("agentId", "is only allowed for the agent role.");
        }

        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        var (keyId, key) = ApiKeys.Generate(Ids.NewFor(context, services.Time));
        var view = await ApiKeys.IssueAsync(services.Grains, keyId,
            new IssueApiKey(orgId, body.Name!, body.Role!.Value, body.AgentId, ApiKeys.Hash(key)), IdempotencyMiddleware.IsRerun(context));
        return TypedResults.Created($"{keysPath}/{keyId}", new KeyCreated(view.Id, view.Name, view.Role, view.AgentId, key));
    }

    private static async Task<Results<Ok<ListPage<ApiKeyView>>, ProblemHttpResult>> ListKeysAsync(
        string orgId, string? limit, string? cursor, ApiServices services, CancellationToken cancellationToken)
    {
        var validator = new RequestValidator();
        var pageSize = ApiGroups.Limit(validator, limit, cursor);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        var query = new ProjectionQuery("keys", orgId) { Limit = pageSize, Cursor = cursor };
        return await ApiGroups.QueryAsync(services.Projections, query, GrainContractsJsonContext.Default.ApiKeyView, cancellationToken);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeKeyAsync(string orgId, string id, ApiServices services)
    {
        var validator = new RequestValidator();
        validator.Id("id", id);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        await services.Grains.GetGrain<IApiKeyGrain>(id).RevokeAsync(orgId);
        return TypedResults.NoContent();
    }
}
