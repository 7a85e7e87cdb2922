using System.Reflection;
using System.Security.Claims;
using Orchestration.Grains.Events;
using Orchestration.Grains.Keys;

namespace Orchestration.Api.Auth;

/// <summary>Who an authenticated request acts as; bound as a handler parameter from the request's principal.</summary>
internal sealed record Caller(string KeyId, string OrgId, ApiKeyRole Role, string? AgentId)
{
    private const string KeyIdClaim = "orch:key";
    private const string OrgIdClaim = "orch:org";
    private const string AgentIdClaim = "orch:agent";

    /// <summary>The actor recorded on the events this caller causes.</summary>
    public EventActor Actor => Role == ApiKeyRole.Agent && AgentId is not null ? new EventActor("agent", AgentId) : new EventActor("api_key", KeyId);

    /// <summary>Whether the caller may act as <paramref name="agentId"/>: agent keys only as their own agent.</summary>
    public bool MayActAs(string agentId) => Role != ApiKeyRole.Agent || string.Equals(AgentId, agentId, StringComparison.Ordinal);

    /// <summary>The principal carrying this caller.</summary>
    public ClaimsPrincipal ToPrincipal(string scheme)
    {
        List<Claim> claims =
        [
            new(KeyIdClaim, KeyId),
            new(OrgIdClaim, OrgId),
            new(ClaimTypes.Role, RoleName(Role)),
        ];
        if (AgentId is not null)
        {
            claims.Add(new Claim(AgentIdClaim, AgentId));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }

    /// <summary>The caller of an authenticated principal; <c>null</c> for anonymous ones.</summary>
    public static Caller? From(ClaimsPrincipal user)
    {
        if (user.FindFirstValue(KeyIdClaim) is not { } keyId || user.FindFirstValue(OrgIdClaim) is not { } orgId
            || user.FindFirstValue(ClaimTypes.Role) is not { } role)
        {
            return null;
        }

        return new Caller(keyId, orgId, Enum.GetValues<ApiKeyRole>().First(value => RoleName(value) == role), user.FindFirstValue(AgentIdClaim));
    }

    /// <summary>Minimal APIs bind a <see cref="Caller"/> parameter through this.</summary>
    public static ValueTask<Caller?> BindAsync(HttpContext context, ParameterInfo parameter) => ValueTask.FromResult(From(context.User));

    /// <summary>The role's name as in API.md, for example <c>operator</c>.</summary>
    public static string RoleName(ApiKeyRole role) => role switch
    {
        ApiKeyRole.Viewer => "viewer",
        ApiKeyRole.Agent => "agent",
        ApiKeyRole.Operator => "operator",
        ApiKeyRole.Admin => "admin",
        ApiKeyRole.Platform => "platform",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, null),
    };
}
