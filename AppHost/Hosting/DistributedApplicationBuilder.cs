using System.Globalization;
using System.Reflection;

namespace Orchestration.AppHost.Hosting;

/// <summary>Collects the resources of the app model, in the order they are added (the manifest's order).</summary>
internal sealed class DistributedApplicationBuilder(string[] args)
{
    private readonly List<IResource> _resources = [];

    public AppHostOptions Options { get; } = AppHostOptions.Parse(args);

    public IReadOnlyList<IResource> Resources => _resources;

    /// <summary>The repository root, recorded at build time.</summary>
    public string RepositoryRoot { get; } = Path.GetFullPath(Metadata("repository-root"));

    /// <summary>Where runs keep their data: <c>ORCHESTRATION_DATA_DIR</c>, default <c>.data</c> at the repository root.</summary>
    public string DataDirectory => Path.GetFullPath(Setting("ORCHESTRATION_DATA_DIR", Path.Combine(RepositoryRoot, ".data")));

    /// <summary>The Api's port in a run: <c>ORCHESTRATION_API_PORT</c>, default 5080.</summary>
    public int ApiPort => int.Parse(Setting("ORCHESTRATION_API_PORT", "5080"), CultureInfo.InvariantCulture);

    public T AddResource<T>(T resource)
        where T : IResource
    {
        if (_resources.Any(existing => existing.Name == resource.Name))
        {
            throw new InvalidOperationException($"The model already has a resource named '{resource.Name}'.");
        }

        _resources.Add(resource);
        return resource;
    }

    /// <summary>Adds a .NET project of this repository (see AppHost.csproj's <c>project:&lt;name&gt;</c> metadata).</summary>
    public ProjectResource AddProject(string name) =>
        AddResource(new ProjectResource(name, Path.GetFullPath(Metadata($"project-file:{name}")), Path.GetFullPath(Metadata($"project:{name}"))))
            .WithOtlpExporter();

    /// <summary>An environment variable of the AppHost, or <paramref name="defaultValue"/> when it is unset.</summary>
    public static string Setting(string name, string defaultValue) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : defaultValue;

    public DistributedApplication Build() => new(Options, [.. _resources], DataDirectory);

    private static string Metadata(string key) =>
        typeof(DistributedApplicationBuilder).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(attribute => attribute.Key == key)?.Value
        ?? throw new InvalidOperationException($"The AppHost was built without '{key}'.");
}
