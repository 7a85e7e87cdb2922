using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Orchestration.AppHost.Hosting;

/// <summary>What a resource needs to write itself: the writer, and paths relative to the manifest.</summary>
internal sealed class ManifestContext(Utf8JsonWriter writer, string manifestDirectory)
{
    public Utf8JsonWriter Writer { get; } = writer;

    /// <summary><paramref name="path"/> relative to the manifest's folder, with forward slashes on every OS.</summary>
    public string RelativePath(string path) => Path.GetRelativePath(manifestDirectory, path).Replace('\\', '/');
}

/// <summary>
/// Writes the app model as Aspire's manifest (<c>aspire-8.0</c> schema): resources in model order, two-space
/// indentation, LF line endings and a final newline, nothing machine- or run-specific, so the same model always gives
/// the same bytes.
/// </summary>
internal static class ManifestPublisher
{
    public const string Schema = "https://json.schemastore.org/aspire-8.0.json";

    public static string Write(IEnumerable<IResource> resources, string manifestDirectory)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var options = new JsonWriterOptions
        {
            Indented = true,
            NewLine = "\n",
            // Expressions such as {postgres.connectionString} and `Host=...;Port=...` stay readable, as Aspire writes them.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        using (var writer = new Utf8JsonWriter(buffer, options))
        {
            var context = new ManifestContext(writer, Path.GetFullPath(manifestDirectory));
            writer.WriteStartObject();
            writer.WriteString("$schema", Schema);
            writer.WriteStartObject("resources");
            foreach (var resource in resources)
            {
                writer.WriteStartObject(resource.Name);
                resource.WriteManifest(context);
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }

    public static async Task WriteFileAsync(IEnumerable<IResource> resources, string outputPath)
    {
        var path = Path.GetFullPath(outputPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, Write(resources, Path.GetDirectoryName(path)!), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
    }
}
