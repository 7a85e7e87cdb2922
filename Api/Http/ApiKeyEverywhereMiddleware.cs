using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;

namespace Orchestration.Api;

/// <summary>
/// Every <c>/api/v1</c> path needs a key (API.md), including those no endpoint serves: an unknown path or a method the
/// path does not take answers 401 without a key, as any other would, and routing's 404 or 405 only to a caller with
/// one. Endpoints that authorize were already decided by the authorization middleware before this one.
/// </summary>
internal sealed class ApiKeyEverywhereMiddleware(RequestDelegate next)
{
    private static readonly PathString s_api = "/api/v1";

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.Request.Path.StartsWithSegments(s_api, StringComparison.OrdinalIgnoreCase)
            && context.GetEndpoint()?.Metadata.GetMetadata<IAuthorizeData>() is null
            && context.User.Identity?.IsAuthenticated != true)
        {
            await context.ChallengeAsync();
            return;
        }

        await next(context);
    }
}
