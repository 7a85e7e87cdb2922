using System.Globalization;

namespace Orchestration.AppHost.Hosting;

/// <summary>
/// A .NET project of this repository: its built output runs as one process per replica; the manifest names its
/// .csproj. Environment entries keep the order they were added in (a later entry of the same name replaces the earlier
/// value in place), as Aspire's environment callbacks do.
/// </summary>
internal sealed class ProjectResource(string name, string projectFile, string assemblyPath) : IProcessResource
{
    private readonly List<Func<IEnumerable<KeyValuePair<string, ValueExpression>>>> _environment = [];
    private readonly List<Endpoint> _endpoints = [];
    private readonly List<IResource> _waitsFor = [];
    private bool _replicated;

    public string Name { get; } = name;

    /// <summary>The .csproj, absolute.</summary>
    public string ProjectFile { get; } = projectFile;

    /// <summary>The built entry assembly, absolute.</summary>
    public string AssemblyPath { get; } = assemblyPath;

    public int Replicas { get; private set; } = 1;

    public IReadOnlyList<Endpoint> Endpoints => _endpoints;

    public IReadOnlyList<IResource> WaitsFor => _waitsFor;

    /// <summary>The resource's name, or <c>name-i</c> (0-based) once it has replicas.</summary>
    public string ReplicaName(int replica) =>
        _replicated ? $"{Name}-{replica.ToString(CultureInfo.InvariantCulture)}" : Name;

    /// <summary>Runs <paramref name="replicas"/> copies, named <c>name-0</c>, <c>name-1</c>, ….</summary>
    public ProjectResource WithReplicas(int replicas)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        Replicas = replicas;
        _replicated = true;
        return this;
    }

    /// <summary>
    /// Serves HTTP: on <c>localhost:<paramref name="port"/></c> when a port is given (an address people type), else on a
    /// free 127.0.0.1 port per replica. The project learns it from <c>ASPNETCORE_URLS</c> in a run and <c>HTTP_PORTS</c>
    /// once deployed.
    /// </summary>
    public ProjectResource WithHttpEndpoint(int? port = null, bool external = false) =>
        WithEndpoint(new Endpoint(Name, "http", "http", "http")
        {
            Port = port,
            Host = port is null ? "127.0.0.1" : "localhost",
            External = external,
        });

    public ProjectResource WithEndpoint(Endpoint endpoint)
    {
        if (_endpoints.Any(existing => existing.Name == endpoint.Name))
        {
            throw new InvalidOperationException($"{Name} already has an endpoint named '{endpoint.Name}'.");
        }

        _endpoints.Add(endpoint);
        return this;
    }

    public Endpoint GetEndpoint(string endpointName) =>
        _endpoints.SingleOrDefault(endpoint => endpoint.Name == endpointName)
        ?? throw new InvalidOperationException($"{Name} has no endpoint named '{endpointName}'.");

    public ProjectResource WithEnvironment(string variable, string value) => WithEnvironment(variable, ValueExpression.Literal(value));

    public ProjectResource WithEnvironment(string variable, ValueExpression value) =>
        WithEnvironment(() => [KeyValuePair.Create(variable, value)]);

    /// <summary>Entries computed when the environment is read, so they see the final model (replica counts, endpoints).</summary>
    public ProjectResource WithEnvironment(Func<IEnumerable<KeyValuePair<string, ValueExpression>>> entries)
    {
        _environment.Add(entries);
        return this;
    }

    /// <summary><c>ConnectionStrings__&lt;name&gt;</c>: the referenced resource's connection string.</summary>
    public ProjectResource WithReference(IResourceWithConnectionString resource) =>
        WithEnvironment($"ConnectionStrings__{resource.Name}", resource.ConnectionString);

    /// <summary>
    /// <c>services__&lt;name&gt;__&lt;endpoint&gt;__&lt;i&gt;</c>: the URL of each of the referenced service's endpoints. A
    /// run has no proxy in front of replicas, so it lists every replica (<c>__0</c>, <c>__1</c>, …); the manifest has
    /// one address per endpoint, <c>__0</c>.
    /// </summary>
    public ProjectResource WithReference(ProjectResource service) => WithEnvironment(() =>
        service.Endpoints.SelectMany(endpoint => Enumerable.Range(0, service.Replicas).Select(i => KeyValuePair.Create(
            $"services__{service.Name}__{endpoint.Name}__{i.ToString(CultureInfo.InvariantCulture)}",
            new ValueExpression(i == 0 ? endpoint.Url.Manifest : null, _ => endpoint.UrlOf(i))))));

    /// <summary>Starts this resource only once <paramref name="resource"/> is healthy (Aspire's <c>WaitFor</c>).</summary>
    public ProjectResource WaitFor(IResource resource)
    {
        _waitsFor.Add(resource);
        return this;
    }

    /// <summary>What replica <paramref name="replica"/> gets when run, in order (unset values left out).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> RunEnvironment(int replica) =>
        [.. Environment().Select(entry => KeyValuePair.Create(entry.Key, entry.Value.Resolve(replica)))
            .Where(entry => entry.Value is not null)
            .Select(entry => KeyValuePair.Create(entry.Key, entry.Value!))];

    /// <summary>What the manifest writes, in order (run-only values left out).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ManifestEnvironment() =>
        [.. Environment().Where(entry => entry.Value.Manifest is not null).Select(entry => KeyValuePair.Create(entry.Key, entry.Value.Manifest!))];

    public Task<IReadOnlyList<ProcessSpec>> PrepareAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(AssemblyPath))
        {
            throw new AppHostException($"{Name} is not built: {AssemblyPath} is missing. Run `dotnet build` first.");
        }

        var http = _endpoints.FirstOrDefault(endpoint => endpoint.IsHttp)
            ?? throw new InvalidOperationException($"{Name} has no HTTP endpoint to check its health on.");
        IReadOnlyList<ProcessSpec> processes =
        [
            .. Enumerable.Range(0, Replicas).Select(replica => new ProcessSpec(
                ReplicaName(replica),
                "dotnet",
                [AssemblyPath],
                RunEnvironment(replica),
                Path.GetDirectoryName(AssemblyPath)!,
                http.UrlOf(replica),
                HealthProbes.Http($"{http.UrlOf(replica)}/health"))),
        ];
        return Task.FromResult(processes);
    }

    public void WriteManifest(ManifestContext context)
    {
        var writer = context.Writer;
        writer.WriteString("type", "project.v0");
        writer.WriteString("path", context.RelativePath(ProjectFile));
        // No "replicas": project.v0 has no such field (aspire-manifest.md); how many copies run is the deployer's choice.
        writer.WriteStartObject("env");
        foreach (var (variable, value) in ManifestEnvironment())
        {
            writer.WriteString(variable, value);
        }

        writer.WriteEndObject();
        writer.WriteStartObject("bindings");
        foreach (var endpoint in _endpoints)
        {
            endpoint.WriteManifest(writer);
        }

        writer.WriteEndObject();
    }

    private IEnumerable<KeyValuePair<string, ValueExpression>> Environment()
    {
        var entries = new List<KeyValuePair<string, ValueExpression>>
        {
            KeyValuePair.Create("ASPNETCORE_ENVIRONMENT", ValueExpression.RunOnly(_ => "Development")),
            KeyValuePair.Create("DOTNET_ENVIRONMENT", ValueExpression.RunOnly(_ => "Development")),
        };
        var http = _endpoints.Where(endpoint => endpoint.IsHttp).ToList();
        if (http.Count > 0)
        {
            ValueExpression urls = ValueExpression.RunOnly(replica => string.Join(';', http.Select(endpoint => endpoint.UrlOf(replica))));
            entries.Add(KeyValuePair.Create("ASPNETCORE_URLS", urls));
            // Also Urls: a project's appsettings.json `Urls` (the Api has one) outranks ASPNETCORE_URLS, not this.
            entries.Add(KeyValuePair.Create("Urls", urls));
            entries.Add(KeyValuePair.Create("ASPNETCORE_FORWARDEDHEADERS_ENABLED", ValueExpression.PublishOnly("true")));
            entries.Add(KeyValuePair.Create("HTTP_PORTS", ValueExpression.PublishOnly(
                string.Join(';', http.Select(endpoint => endpoint.TargetPortExpression.Manifest)))));
        }

        foreach (var entry in _environment.SelectMany(source => source()))
        {
            var existing = entries.FindIndex(e => e.Key == entry.Key);
            if (existing >= 0)
            {
                entries[existing] = entry;
            }
            else
            {
                entries.Add(entry);
            }
        }

        return entries;
    }
}
