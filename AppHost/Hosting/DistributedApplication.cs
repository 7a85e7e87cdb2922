namespace Orchestration.AppHost.Hosting;

/// <summary>
/// The app model, after Aspire's: resources declared on a builder, then either run together as child processes that
/// stop when the AppHost stops, or published as Aspire's manifest (<c>--publisher manifest</c>).
/// </summary>
internal sealed class DistributedApplication(AppHostOptions options, IReadOnlyList<IResource> resources, string dataDirectory)
{
    public static DistributedApplicationBuilder CreateBuilder(string[] args) => new(args);

    /// <summary>Runs or publishes the model; returns the process exit code (0 after a requested stop, 1 on failure, 2 on bad arguments).</summary>
    public async Task<int> RunAsync()
    {
        var unknown = options.Without.Where(name => !resources.OfType<ProjectResource>().Any(resource => resource.Name == name)).ToList();
        var errors = options.Errors.Concat(unknown.Select(name =>
            $"--without {name}: this model has no service named '{name}' ({string.Join(", ", resources.OfType<ProjectResource>().Select(resource => resource.Name))})."));
        if (errors.ToList() is { Count: > 0 } all)
        {
            foreach (var error in all)
            {
                Console.Error.WriteLine($"[apphost] {error}");
            }

            Console.Error.WriteLine(AppHostOptions.Usage);
            return 2;
        }

        if (options.Publisher is not null)
        {
            await ManifestPublisher.WriteFileAsync(resources, options.OutputPath);
            Console.WriteLine($"[apphost] Wrote the app model to {Path.GetFullPath(options.OutputPath)}");
            return 0;
        }

        return await new ApplicationOrchestrator(resources, options.Without, dataDirectory).RunAsync();
    }
}
