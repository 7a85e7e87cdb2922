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
