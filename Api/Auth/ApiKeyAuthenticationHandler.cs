using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Orchestration.Grains;
using Orchestration.Grains.Keys;
using Orchestration.Runtime;

namespace Orchestration.Api.Auth;

/// <summary>
/// <c>Authorization: Bearer &lt;key&gt;</c>, checked by the key's grain on every request (nothing is cached, so a
/// revocation takes effect on the very next request in every process). Failures answer problem responses.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IGrainFactory grains,
    IProblemDetailsService problems) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>The scheme's name.</summary>
    public const string SchemeName = "ApiKey";

    private const int MaxTokenLength = 512;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.Authorization.Any())
        {
            return AuthenticateResult.NoResult();
        }

        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.Fail("The Authorization header is not a bearer token.");
        }

        var token = header["Bearer ".Length..].Trim();
        if (token.Length is 0 or > MaxTokenLength)
        {
            return AuthenticateResult.Fail("The bearer token is empty or too long.");
        }

        ApiKeyPrincipal? principal;
        try
        {
            principal = await grains.GetGrain<IApiKeyGrain>(ApiKeys.KeyIdOf(token)).AuthenticateAsync(ApiKeys.Hash(token));
        }
        catch (OrchestrationException exception) when (exception.Code == ProblemCodes.NotFound)
        {
            principal = null;
        }

        if (principal is null)
        {
            return AuthenticateResult.Fail("The key is unknown or revoked.");
        }

        var caller = new Caller(principal.KeyId, principal.OrgId, principal.Role, principal.AgentId);
        return AuthenticateResult.Success(new AuthenticationTicket(caller.ToPrincipal(SchemeName), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        await ApiProblems.WriteAsync(problems, Context, StatusCodes.Status401Unauthorized, ApiProblems.Unauthorized,
            "A valid API key is required: send 'Authorization: Bearer <key>'. The key may be missing, malformed or revoked.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        ApiProblems.WriteAsync(problems, Context, StatusCodes.Status403Forbidden, ApiProblems.Forbidden,
            "This key's role may not do this.").AsTask();
}
