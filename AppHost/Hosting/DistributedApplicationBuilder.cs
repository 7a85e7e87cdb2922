using System.Reflection;

namespace Orchestration.AppHost.Hosting;

/// <summary>Collects the resources of the app model.</summary>
internal sealed class DistributedApplicationBuilder(string[] args)
{
    private readonly List<ProjectResource> _resources = [];

    public string[] Args { get; } = args;

    /// <summary>The repository root, recorded at build time.</summary>
    public string RepositoryRoot { get; } = Path.GetFullPath(Metadata("repository-root"));

    /// <summary>Adds a .NET project of this repository; its built output is what runs.</summary>
    public ProjectResource AddProject(string name)
    {
        var resource = new ProjectResource(name, Path.GetFullPath(Metadata($"project:{name}")));
        _resources.Add(resource);
        return resource;
    }

    /// <summary>An environment variable, or <paramref name="defaultValue"/> when it is unset.</summary>
    public string Setting(string name, string defaultValue) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : defaultValue;

    public DistributedApplication Build() => new(_resources);

    private static string Metadata(string key) =>
        typeof(DistributedApplicationBuilder).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(attribute => attribute.Key == key)?.Value
        ?? throw new InvalidOperationException($"The AppHost was built without '{key}'.");
}
