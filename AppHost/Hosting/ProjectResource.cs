namespace Orchestration.AppHost.Hosting;

/// <summary>A .NET project run as a child process, with its endpoint and environment.</summary>
internal sealed class ProjectResource(string name, string assemblyPath)
{
    private readonly Dictionary<string, string> _environment = new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Development",
        ["DOTNET_ENVIRONMENT"] = "Development",
    };

    public string Name { get; } = name;

    public string AssemblyPath { get; } = assemblyPath;

    public string Url { get; private set; } = "http://localhost:5000";

    public IReadOnlyDictionary<string, string> Environment => _environment;

    /// <summary>
    /// Serves HTTP on <paramref name="port"/> of localhost, passed as the <c>Urls</c> setting (an environment variable
    /// outranks the project's appsettings.json).
    /// </summary>
    public ProjectResource WithHttpEndpoint(int port)
    {
        Url = $"http://localhost:{port}";
        return WithEnvironment("Urls", Url);
    }

    public ProjectResource WithEnvironment(string name, string value)
    {
        _environment[name] = value;
        return this;
    }
}
