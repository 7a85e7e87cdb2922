using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace Orchestration.Api;

/// <summary>
/// Hashes a JSON body so that bodies equal as parsed JSON hash alike: object members sorted, whitespace ignored, strings
/// compared by value (escapes resolved) and numbers by value (<c>2</c>, <c>2.0</c> and <c>20e-1</c> alike), exactly, at
/// any precision.
/// </summary>
internal static class CanonicalJson
{
    /// <summary>Lower-case hex SHA-256 of the canonical form; of the raw bytes when the body is not JSON.</summary>
    public static string Hash(ReadOnlyMemory<byte> body) => Hash(body, numbersByValue: true);

    /// <summary>
    /// The hash of the release before numbers were compared by value (numbers as written). Records it made are replayed
    /// for their retention (24 h), so a retry that crosses a rolling upgrade is still recognised; drop it a release later.
    /// </summary>
    public static string HashWithNumbersAsWritten(ReadOnlyMemory<byte> body) => Hash(body, numbersByValue: false);

    private static string Hash(ReadOnlyMemory<byte> body, bool numbersByValue)
    {
        if (body.IsEmpty)
        {
            return Convert.ToHexStringLower(SHA256.HashData([]));
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                Write(writer, document.RootElement, numbersByValue);
            }

            return Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
        }
        catch (JsonException)
        {
            return Convert.ToHexStringLower(SHA256.HashData(body.Span));
        }
    }

    private static void Write(Utf8JsonWriter writer, JsonElement element, bool numbersByValue)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(property => property.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    Write(writer, property.Value, numbersByValue);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    Write(writer, item, numbersByValue);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.Number when numbersByValue:
                writer.WriteRawValue(CanonicalNumber(element.GetRawText()), skipInputValidation: true);
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }

    /// <summary>
    /// A JSON number's text as <c>[-]digits e exponent</c> with no leading or trailing zeros in the digits (zero is
    /// <c>0</c>), so two texts of one value give one form; digit arithmetic, never a binary or decimal type that rounds.
    /// An exponent of more than 15 digits keeps the text as written: arithmetic on it would cost time that grows with
    /// its length, and the text still never matches the form of another value (only the same value written otherwise).
    /// </summary>
    private static string CanonicalNumber(string number)
    {
        const int MaxExponentDigits = 15;
        var negative = number.StartsWith('-');
        var unsigned = negative ? number[1..] : number;
        var exponentAt = unsigned.IndexOfAny(['e', 'E']);
        var mantissa = exponentAt < 0 ? unsigned : unsigned[..exponentAt];
        var exponent = 0L;
        if (exponentAt >= 0)
        {
            var written = unsigned[(exponentAt + 1)..];
            var exponentNegative = written.StartsWith('-');
            var exponentDigits = written.TrimStart('+', '-').TrimStart('0');
            if (exponentDigits.Length > MaxExponentDigits)
            {
                return number;
            }

            exponent = exponentDigits.Length == 0 ? 0 : long.Parse(exponentDigits, NumberStyles.None, CultureInfo.InvariantCulture);
            exponent = exponentNegative ? -exponent : exponent;
        }

        var point = mantissa.IndexOf('.');
        var digits = point < 0 ? mantissa : string.Concat(mantissa.AsSpan(0, point), mantissa.AsSpan(point + 1));
        if (point >= 0)
        {
            exponent -= mantissa.Length - point - 1;
        }

        digits = digits.TrimStart('0');
        if (digits.Length == 0)
        {
            return "0";
        }

        var significant = digits.TrimEnd('0');
        exponent += digits.Length - significant.Length;
        return string.Create(CultureInfo.InvariantCulture, $"{(negative ? "-" : string.Empty)}{significant}e{exponent}");
    }
}
