namespace Orchestration.AppHost.Tests;

/// <summary>The committed <c>aspire-manifest.json</c> is exactly what <c>--publisher manifest</c> writes today.</summary>
public sealed class ManifestTests
{
    private const string Regenerate = "dotnet run --project AppHost -- --publisher manifest --output-path aspire-manifest.json";

    [Fact]
    public async Task Publish_Manifest_EqualsTheCommittedRootManifestByteForByte()
    {
        // Written next to the committed one, since project paths are relative to the manifest; a run-specific
        // environment must not leak into it.
        var output = Path.Combine(AppHostProcess.RepositoryRoot, $"aspire-manifest.{Guid.NewGuid():N}.json");
        try
        {
            await using (var appHost = AppHostProcess.Start(
                ["--publisher", "manifest", "--output-path", output],
                new Dictionary<string, string>
                {
                    ["ORCHESTRATION_API_PORT"] = "6001",
                    ["ORCHESTRATION_DATA_DIR"] = Path.GetTempPath(),
                    ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:4317",
                    ["ConnectionStrings__postgres"] = "Host=db.example;Username=someone",
                }))
            {
                Assert.Equal(0, await appHost.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            }

            var committed = await File.ReadAllTextAsync(Path.Combine(AppHostProcess.RepositoryRoot, "aspire-manifest.json"));
            var generated = await File.ReadAllTextAsync(output);
            Assert.True(committed == generated, $"aspire-manifest.json is stale; regenerate it with `{Regenerate}` and commit it.\n{generated}");
            Assert.DoesNotContain('\r', generated);
            Assert.EndsWith("}\n", generated, StringComparison.Ordinal);
            Assert.DoesNotContain(AppHostProcess.RepositoryRoot, generated, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(output);
        }
    }
}
