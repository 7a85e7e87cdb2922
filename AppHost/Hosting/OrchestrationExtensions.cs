namespace Orchestration.AppHost.Hosting;

/// <summary>
/// How this repository's projects are wired: storage and mode for each topology, the silo's endpoint and identity, and
/// the platform key. The environment names are the contract with Api/ and Silo/.
/// </summary>
internal static class OrchestrationExtensions
{
    /// <summary>The port a deployed silo listens on for other processes (Orleans' customary silo port).</summary>
    public const int SiloTargetPort = 11111;

    /// <summary>
    /// The platform key (<c>ORCHESTRATION_BOOTSTRAP_KEY</c>): in the manifest a generated secret parameter; in a run
    /// generated once into <c>&lt;data&gt;/bootstrap-key</c> (mode 0600), where the user reads it, and reused.
    /// </summary>
    public static ParameterResource AddBootstrapKey(this DistributedApplicationBuilder builder, string name)
    {
        var file = Path.Combine(builder.DataDirectory, "bootstrap-key");
        // The Api's own key format (Api/Auth/ApiKeys.cs), though any string of the parameter's length works as well.
        return builder.AddResource(new ParameterResource(name, 32, () => StoredSecret.ReadOrCreate(file, () => $"orch_bootstrap_{StoredSecret.Random()}")));
    }

    /// <summary>
    /// Embedded mode: the Api hosts its silo in-process on SQLite in <paramref name="dataDirectory"/> (the platform key
    /// file goes next to the database).
    /// </summary>
    public static ProjectResource WithEmbeddedStorage(this ProjectResource project, string dataDirectory) => project
        .WithEnvironment("Orchestration__Mode", "Embedded")
        .WithEnvironment("Storage__Provider", "Sqlite")
        .WithEnvironment("Storage__SqlitePath", ValueExpression.RunOnly(_ => Path.Combine(dataDirectory, "orchestration.db")));

    /// <summary>Cluster mode on PostgreSQL: <c>ConnectionStrings__&lt;postgres&gt;</c> carries storage and membership.</summary>
    public static ProjectResource WithClusterStorage(this ProjectResource project, PostgresServerResource postgres) => project
        .WithEnvironment("Orchestration__Mode", "Cluster")
        .WithEnvironment("Storage__Provider", "Postgres")
        .WithReference(postgres);

    /// <summary>
    /// The <c>silo</c> endpoint other processes call this silo on (HTTP/2), passed as <c>Cluster__SiloPort</c> as
    /// Orleans-on-Aspire passes <c>Orleans__Endpoints__SiloPort</c>.
    /// </summary>
    public static ProjectResource WithSiloEndpoint(this ProjectResource project)
    {
        project.WithEndpoint(new Endpoint(project.Name, "silo", "tcp", "http2") { TargetPort = SiloTargetPort });
        return project.WithEnvironment("Cluster__SiloPort", project.GetEndpoint("silo").TargetPortExpression);
    }

    /// <summary>
    /// <c>Silo__SiloId</c> = the replica's name (<c>silo-0</c>, …). Run only: the manifest has one entry for all
    /// replicas, so deployed silos take their own default identity.
    /// </summary>
    public static ProjectResource WithSiloId(this ProjectResource project) =>
        project.WithEnvironment("Silo__SiloId", ValueExpression.RunOnly(project.ReplicaName));

    /// <summary>Passes a parameter's value (<c>{name.value}</c> in the manifest).</summary>
    public static ProjectResource WithEnvironment(this ProjectResource project, string variable, ParameterResource parameter) =>
        project.WithEnvironment(variable, parameter.Value);
}
