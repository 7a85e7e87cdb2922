using Orchestration.AppHost.Hosting;

var builder = DistributedApplication.CreateBuilder(args);

if (builder.Options.Cluster)
{
    // Infrastructure. PostgreSQL carries storage, membership and event hints; there is no Redis (docs/adr/0008-no-redis.md).
    var postgres = builder.AddPostgres("postgres");
    var bootstrapKey = builder.AddBootstrapKey("bootstrap-key");

    // Services. Silos own the grains; the Api is a cluster client that starts once every silo is healthy.
    var silo = builder.AddProject("silo")
        .WithReplicas(builder.Options.Silos)
        .WithClusterStorage(postgres)
        .WithHttpEndpoint()
        .WithSiloEndpoint()
        .WithSiloId()
        .WaitFor(postgres);

    builder.AddProject("api")
        .WithHttpEndpoint(port: builder.ApiPort, external: true)
        .WithClusterStorage(postgres)
        .WithEnvironment("ORCHESTRATION_BOOTSTRAP_KEY", bootstrapKey)
        .WaitFor(silo);
}
else
{
    // Embedded, the zero-setup default: the Api hosts its silo in-process on SQLite, so nothing else needs to run.
    builder.AddProject("api")
        .WithHttpEndpoint(port: builder.ApiPort, external: true)
        .WithEmbeddedStorage(builder.DataDirectory);
}

return await builder.Build().RunAsync();
