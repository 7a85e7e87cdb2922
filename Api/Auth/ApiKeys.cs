using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Orchestration.Api.Auth;

/// <summary>
/// The key format: <c>orch_&lt;keyId&gt;_&lt;secret&gt;</c>, key id 16 random bytes in lower-case hex, secret 32 random
/// bytes in base64url. Grains only ever see the SHA-256 of the whole key string.
/// </summary>
internal static class ApiKeys
{
    /// <summary>The id of the platform key created on first start.</summary>
    public const string BootstrapKeyId = "bootstrap";

    private const string Prefix = "orch_";

    /// <summary>A new key: its id and the whole key string.</summary>
    public static (string KeyId, string Key) Generate()
    {
        var keyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        return (keyId, $"{Prefix}{keyId}_{Secret()}");
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
