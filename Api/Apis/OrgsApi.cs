using Microsoft.AspNetCore.Http.HttpResults;
using Orchestration.Api.Auth;
using Orchestration.Api.Contracts;
using Orchestration.Grains;
using Orchestration.Grains.Keys;
using Orchestration.Grains.Organisations;
using Orchestration.Runtime.Projections;

namespace Orchestration.Api.Apis;

/// <summary><c>/api/v1/orgs</c>: organisations, for the platform key only.</summary>
internal static class OrgsApi
{
    public static IEndpointRouteBuilder MapOrgsApi(this IEndpointRouteBuilder routes)
    {
        var orgs = routes.MapResourceGroup("/api/v1/orgs", "Organisations").RequireAuthorization(ApiPolicies.Platform);
        orgs.MapPost("", CreateOrgAsync).WithName("CreateOrg");
        orgs.MapGet("", ListOrgsAsync).WithName("ListOrgs");
        return routes;
    }

    private static async Task<Results<Created<OrgCreated>, ProblemHttpResult>> CreateOrgAsync(
        CreateOrgRequest body, HttpContext context, [AsParameters] ApiServices services)
    {
        var validator = new RequestValidator();
        validator.OptionalId("id", body.Id);
        validator.Text("name", body.Name, 200);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        var id = body.Id ?? Ids.NewFor(context, services.Time);
        // A run after a crashed one (same Idempotency-Key) finds the organisation that run created, maybe before it issued
        // the admin key, which was not recorded for replay either: this run issues it, or gives the one that run issued a
        // new secret, so the organisation has one admin key and its creator holds it.
        var org = await services.Grains.GetGrain<IOrganisationGrain>(id).CreateAsync(body.Name!, IdempotencyMiddleware.ReservedId(context));
        var (keyId, key) = ApiKeys.Generate(ApiKeys.AdminKeyIdOf(id));
        await ApiKeys.IssueAsync(services.Grains, keyId, new IssueApiKey(id, "admin", ApiKeyRole.Admin, null, ApiKeys.Hash(key)), IdempotencyMiddleware.IsRerun(context));
        return TypedResults.Created($"/api/v1/orgs/{id}", new OrgCreated(org.Id, org.Name, key));
    }

    private static async Task<Results<Ok<ListPage<OrganisationView>>, ProblemHttpResult>> ListOrgsAsync(
        string? limit, string? cursor, [AsParameters] ApiServices services, CancellationToken cancellationToken)
    {
        var validator = new RequestValidator();
        var pageSize = ApiGroups.Limit(validator, limit, cursor);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        var query = new ProjectionQuery("orgs", null) { Limit = pageSize, Cursor = cursor };
        return await ApiGroups.QueryAsync(services.Projections, query, GrainContractsJsonContext.Default.OrganisationView, cancellationToken);
    }
}
