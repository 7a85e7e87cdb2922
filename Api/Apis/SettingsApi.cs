using Microsoft.AspNetCore.Http.HttpResults;
using Orchestration.Api.Auth;
using Orchestration.Api.Contracts;
using Orchestration.Grains.Organisations;

namespace Orchestration.Api.Apis;

/// <summary>
/// <c>/api/v1/settings</c>: the caller's organisation's settings (heartbeat window, rate limits). An addition to API.md:
/// it says both are "configurable per organisation" without naming the endpoint. Operators may change them: API.md gives
/// them "everything but keys".
/// </summary>
internal static class SettingsApi
{
    public static IEndpointRouteBuilder MapSettingsApi(this IEndpointRouteBuilder routes)
    {
        var settings = routes.MapResourceGroup("/api/v1/settings", "Settings");
        settings.MapGet("", GetSettingsAsync).WithName("GetSettings").RequireAuthorization(ApiPolicies.Read);
        settings.MapPut("", UpdateSettingsAsync).WithName("UpdateSettings").RequireAuthorization(ApiPolicies.Operate);
        return routes;
    }

    private static async Task<Ok<OrganisationSettings>> GetSettingsAsync(Caller caller, [AsParameters] ApiServices services) =>
        TypedResults.Ok(await services.Grains.GetGrain<IOrganisationGrain>(caller.OrgId).GetSettingsAsync());

    private static async Task<Results<Ok<OrganisationSettings>, ProblemHttpResult>> UpdateSettingsAsync(
        OrgSettingsRequest body, Caller caller, [AsParameters] ApiServices services)
    {
        var validator = new RequestValidator();
        validator.Range("heartbeatIntervalSeconds", body.HeartbeatIntervalSeconds, 1, 3_600);
        validator.Range("missedHeartbeatsAllowed", body.MissedHeartbeatsAllowed, 1, 100);
        validator.Range("rateLimitPerSecond", body.RateLimitPerSecond, 1, 1_000_000);
        validator.Range("rateLimitBurst", body.RateLimitBurst, 1, 1_000_000);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        var organisation = services.Grains.GetGrain<IOrganisationGrain>(caller.OrgId);
        var current = await organisation.GetSettingsAsync();
        var updated = await organisation.UpdateSettingsAsync(new OrganisationSettings(
            body.HeartbeatIntervalSeconds ?? current.HeartbeatIntervalSeconds,
            body.MissedHeartbeatsAllowed ?? current.MissedHeartbeatsAllowed,
            body.RateLimitPerSecond ?? current.RateLimitPerSecond,
            body.RateLimitBurst ?? current.RateLimitBurst));
        return TypedResults.Ok(updated.Settings);
    }
}
