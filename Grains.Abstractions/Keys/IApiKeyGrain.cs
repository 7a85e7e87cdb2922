using Orchestration.Runtime;

namespace Orchestration.Grains.Keys;

/// <summary>
/// One API key (key: the key's id, global). Projected to the <c>keys</c> collection of its organisation. A single
/// activation per key makes a revocation visible to every Api process on its very next request.
/// </summary>
public interface IApiKeyGrain : IGrainWithStringKey
{
    /// <summary>Stores the key; <see cref="ProblemCodes.AlreadyExists"/> when the id is taken.</summary>
    Task<ApiKeyView> IssueAsync(IssueApiKey request);

    /// <summary>
    /// Gives the key a new secret: for a request run again after a crashed run issued this key and was never answered,
    /// so its secret was never shown. The key must be the one <paramref name="request"/> describes (organisation, name,
    /// role, agent), else <see cref="ProblemCodes.AlreadyExists"/>; a revoked key stays revoked
    /// (<see cref="ProblemCodes.InvalidTransition"/>); <see cref="ProblemCodes.NotFound"/> when there is no key.
    /// </summary>
    Task<ApiKeyView> ReissueAsync(IssueApiKey request);

    /// <summary>
    /// The principal when <paramref name="secretHash"/> matches (compared in constant time) and the key is not revoked;
    /// otherwise <c>null</c>.
    /// </summary>
    Task<ApiKeyPrincipal?> AuthenticateAsync(string secretHash);

    /// <summary>The key; <see cref="ProblemCodes.NotFound"/> when it does not exist.</summary>
    Task<ApiKeyView> GetAsync();

    /// <summary>
    /// Revokes the key at once. <see cref="ProblemCodes.NotFound"/> when it does not exist or belongs to another
    /// organisation than <paramref name="orgId"/>. Revoking twice is harmless.
    /// </summary>
    Task RevokeAsync(string orgId);
}
