using Microsoft.AspNetCore.Http.HttpResults;
using Orchestration.Api.Auth;
using Orchestration.Api.Contracts;
using Orchestration.Grains;
using Orchestration.Grains.Keys;
using Orchestration.Runtime.Projections;

namespace Orchestration.Api.Apis;

/// <summary><c>/api/v1/keys</c>: the organisation's API keys, for admins.</summary>
internal static class KeysApi
{
    public static IEndpointRouteBuilder MapKeysApi(this IEndpointRouteBuilder routes)
    {
        var keys = routes.MapResourceGroup("/api/v1/keys", "Keys").RequireAuthorization(ApiPolicies.Administer);
        keys.MapPost("", CreateKeyAsync).WithName("CreateKey");
        keys.MapGet("", ListKeysAsync).WithName("ListKeys");
        keys.MapDelete("{id}", RevokeKeyAsync).WithName("RevokeKey");
        return routes;
    }

    private static async Task<Results<Created<KeyCreated>, ProblemHttpResult>> CreateKeyAsync(
        CreateKeyRequest body, Caller caller, HttpContext context, [AsParameters] ApiServices services)
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
            new IssueApiKey(caller.OrgId, body.Name!, body.Role!.Value, body.AgentId, ApiKeys.Hash(key)), IdempotencyMiddleware.IsRerun(context));
        return TypedResults.Created($"/api/v1/keys/{keyId}", new KeyCreated(view.Id, view.Name, view.Role, view.AgentId, key));
    }

    private static async Task<Results<Ok<ListPage<ApiKeyView>>, ProblemHttpResult>> ListKeysAsync(
        string? limit, string? cursor, Caller caller, [AsParameters] ApiServices services, CancellationToken cancellationToken)
    {
        var validator = new RequestValidator();
        var pageSize = ApiGroups.Limit(validator, limit, cursor);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        var query = new ProjectionQuery("keys", caller.OrgId) { Limit = pageSize, Cursor = cursor };
        return await ApiGroups.QueryAsync(services.Projections, query, GrainContractsJsonContext.Default.ApiKeyView, cancellationToken);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeKeyAsync(string id, Caller caller, [AsParameters] ApiServices services)
    {
        var validator = new RequestValidator();
        validator.Id("id", id);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        await services.Grains.GetGrain<IApiKeyGrain>(id).RevokeAsync(caller.OrgId);
        return TypedResults.NoContent();
    }
}
