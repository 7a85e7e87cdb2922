using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Orchestration.Grains;
using Orchestration.Grains.Keys;
using Orchestration.Runtime;

namespace Orchestration.Api.Auth;

/// <summary>
/// The key format: <c>orch_&lt;keyId&gt;_&lt;secret&gt;</c>, the key id a generated id (<see cref="Ids.New"/>, or the
/// one an <c>Idempotency-Key</c> reserved) or, for an organisation's admin key, <see cref="AdminKeyIdOf"/>; the secret
/// 32 random bytes in base64url. Grains only ever see the SHA-256 of the whole key string.
/// </summary>
internal static class ApiKeys
{
    /// <summary>The id of the platform key created on first start.</summary>
    public const string BootstrapKeyId = "bootstrap";

    private const string Prefix = "orch_";

    /// <summary>A new key string for <paramref name="keyId"/>, a valid id without <c>_</c> (the key format's separator).</summary>
    public static (string KeyId, string Key) Generate(string keyId) =>
        Ids.IsValid(keyId) && !keyId.Contains('_', StringComparison.Ordinal)
            ? (keyId, $"{Prefix}{keyId}_{Secret()}")
            : throw new ArgumentException($"'{keyId}' cannot be a key id.", nameof(keyId));

    /// <summary>
    /// The id of the admin key an organisation is created with: one per organisation, so that creating it again after a
    /// crashed run (the same <c>Idempotency-Key</c>) finds the key that run issued instead of adding a second admin key.
    /// </summary>
    public static string AdminKeyIdOf(string orgId) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("admin-key\n" + orgId)).AsSpan(0, 16));

    /// <summary>
    /// Issues <paramref name="request"/> as key <paramref name="keyId"/>. When <paramref name="rerun"/> (the request runs
    /// again after a crashed run that reserved this id) and that run issued the key already, the key gets the new
    /// secret: the first one was never shown, and a second key would be a credential nobody holds.
    /// </summary>
    public static async Task<ApiKeyView> IssueAsync(IGrainFactory grains, string keyId, IssueApiKey request, bool rerun)
    {
        var grain = grains.GetGrain<IApiKeyGrain>(keyId);
        try
        {
            return await grain.IssueAsync(request);
        }
        catch (OrchestrationException e) when (e.Code == ProblemCodes.AlreadyExists && rerun)
        {
            return await grain.ReissueAsync(request);
        }
    }

    /// <summary>A new bootstrap key string.</summary>
    public static string GenerateBootstrap() => $"{Prefix}{BootstrapKeyId}_{Secret()}";

    /// <summary>The key id a presented token is looked up under: the id inside a well-formed key, else <c>bootstrap</c>.</summary>
    public static string KeyIdOf(string token)
    {
        if (token.StartsWith(Prefix, StringComparison.Ordinal))
        {
            var end = token.IndexOf('_', Prefix.Length);
            if (end > Prefix.Length && end < token.Length - 1 && Ids.IsValid(token[Prefix.Length..end]))
            {
                return token[Prefix.Length..end];
            }
        }

        return BootstrapKeyId;
    }

    /// <summary>Lower-case hex SHA-256 of the whole key string.</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static string Secret() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
}
