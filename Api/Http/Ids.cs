using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Orchestration.Api;

/// <summary>
/// Ids of API objects: <c>[A-Za-z0-9._-]{1,128}</c> except <c>.</c> and <c>..</c>, which a URL cannot carry as a path
/// segment (clients and servers resolve them as dot segments, so such an object could be created but never reached);
/// generated ones sort by creation time.
/// </summary>
internal static class Ids
{
    // Crockford's base32 in lower case: ascending in ASCII, so generated ids sort like their timestamps.
    private const string Alphabet = "0123456789abcdefghjkmnpqrstvwxyz";

    /// <summary>Whether <paramref name="id"/> is a valid id.</summary>
    public static bool IsValid(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 128 || id is "." or "..")
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The id of an object a request creates without naming it: the one its <c>Idempotency-Key</c> reserved, if it was
    /// sent with one, so that running the request again after a crash (API.md: the key is free once its in-flight
    /// deadline passes) finds the object instead of creating a second; otherwise a <see cref="New"/> id.
    /// </summary>
    public static string NewFor(HttpContext context, TimeProvider timeProvider) =>
        IdempotencyMiddleware.ReservedId(context) ?? New(timeProvider);

    /// <summary>
    /// A new unique id: 48-bit Unix milliseconds then 80 random bits, as 26 base32 characters (ULID layout), so ids of
    /// later milliseconds sort after earlier ones.
    /// </summary>
    public static string New(TimeProvider timeProvider)
    {
        Span<byte> bytes = stackalloc byte[16];
        var milliseconds = (ulong)timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        for (var i = 0; i < 6; i++)
        {
            bytes[i] = (byte)(milliseconds >> (8 * (5 - i)));
        }

        RandomNumberGenerator.Fill(bytes[6..]);
        var value = new UInt128(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
        Span<char> chars = stackalloc char[26];
        for (var i = 25; i >= 0; i--)
        {
            chars[i] = Alphabet[(int)(value & 31)];
            value >>= 5;
        }

        return new string(chars);
    }
}
