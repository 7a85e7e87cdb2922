using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Orchestration.EndToEnd.Tests;

/// <summary>The README's tour runs as written against the embedded stack (only the Api's address differs).</summary>
public sealed partial class ReadmeTourTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("orch-tour-").FullName;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Tour_RunAsWritten_RegistersClaimsCompletesAndStreamsEveryStep()
    {
        var settings = new Dictionary<string, string>
        {
            ["Storage:Provider"] = "Sqlite",
            ["Storage:SqlitePath"] = Path.Combine(_directory, ".data", "orchestration.db"),
        };
        await using var api = await HostProcess.StartApiAsync(settings, bootstrapKey: null);
        var script = TourScript().Replace("http://localhost:5080", api.Address.ToString().TrimEnd('/'), StringComparison.Ordinal);

        var output = await RunBashAsync(script);

        Assert.Contains("\"status\":\"claimed\"", output, StringComparison.Ordinal);
        Assert.Contains("\"status\":\"completed\"", output, StringComparison.Ordinal);
        foreach (var type in new[] { "agent.registered", "task.created", "task.ready", "task.claimed", "task.completed" })
        {
            Assert.Contains($"event: {type}", output, StringComparison.Ordinal);
        }
    }

    private static string TourScript()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        var tour = TourBlock().Match(readme);
        Assert.True(tour.Success, "README.md has no tour between <!-- tour:start --> and <!-- tour:end -->");
        return tour.Groups["script"].Value;
    }

    private async Task<string> RunBashAsync(string script)
    {
        var start = new ProcessStartInfo("bash", ["-c", script])
        {
            WorkingDirectory = _directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var bash = Process.Start(start)!;
        var output = bash.StandardOutput.ReadToEndAsync();
        var errors = bash.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await bash.WaitForExitAsync(timeout.Token);
        return await output + await errors;
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(directory.FullName, "Orchestration.sln")))
        {
            directory = directory.Parent ?? throw new InvalidOperationException("Orchestration.sln not found above the test's folder.");
        }

        return directory.FullName;
    }

    [GeneratedRegex(@"<!-- tour:start -->\s*```bash\n(?<script>.*?)```\s*<!-- tour:end -->", RegexOptions.Singleline)]
    private static partial Regex TourBlock();
}
