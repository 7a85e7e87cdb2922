using Microsoft.AspNetCore.Authorization;
using Orchestration.Grains.Keys;

namespace Orchestration.Api.Auth;

/// <summary>The authorization policies endpoint groups require (API.md, "Conventions").</summary>
internal static class ApiPolicies
{
    /// <summary>Any valid key: reads.</summary>
    public const string Read = "read";

    /// <summary>Operators, admins and the platform key: changes inside the organisation, keys excepted.</summary>
    public const string Operate = "operate";

    /// <summary>
    /// <see cref="Operate"/> plus agent keys: calls an agent makes about itself. Handlers check that an agent key names
    /// its own agent (<see cref="Caller.MayActAs"/>).
    /// </summary>
    public const string ActAsAgent = "act-as-agent";

    /// <summary>Admins and the platform key: API keys.</summary>
    public const string Administer = "administer";

    /// <summary>The platform key: organisations.</summary>
    public const string Platform = "platform";

    /// <summary>Adds the policies.</summary>
    public static AuthorizationBuilder AddApiPolicies(this AuthorizationBuilder builder) => builder
        .AddPolicy(Read, policy => policy.RequireAuthenticatedUser())
        .AddPolicy(Operate, policy => policy.RequireRole(Names(ApiKeyRole.Operator, ApiKeyRole.Admin, ApiKeyRole.Platform)))
        .AddPolicy(ActAsAgent, policy => policy.RequireRole(Names(ApiKeyRole.Agent, ApiKeyRole.Operator, ApiKeyRole.Admin, ApiKeyRole.Platform)))
        .AddPolicy(Administer, policy => policy.RequireRole(Names(ApiKeyRole.Admin, ApiKeyRole.Platform)))
        .AddPolicy(Platform, policy => policy.RequireRole(Names(ApiKeyRole.Platform)));

    private static string[] Names(params ApiKeyRole[] roles) => [.. roles.Select(Caller.RoleName)];
}
