using System.Security.Cryptography;
using System.Text.Json;

namespace Orchestration.Api;

/// <summary>Hashes a JSON body so that bodies equal as parsed JSON hash alike (object members sorted, whitespace ignored).</summary>
internal static class CanonicalJson
{
    /// <summary>Lower-case hex SHA-256 of the canonical form; of the raw bytes when the body is not JSON.</summary>
    public static string Hash(ReadOnlyMemory<byte> body)
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
                Write(writer, document.RootElement);
            }

            return Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
        }
        catch (JsonException)
        {
            return Convert.ToHexStringLower(SHA256.HashData(body.Span));
        }
    }

    private static void Write(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(property => property.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    Write(writer, property.Value);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }
}
