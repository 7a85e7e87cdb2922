using Orchestration.AppHost.Hosting;

var builder = DistributedApplication.CreateBuilder(args);

// Services. Embedded mode: the Api hosts its silo in-process on SQLite, so nothing else needs to run.
// Postgres, Redis, silos ×N and the web app join this model in later steps.
builder.AddProject("api")
    .WithHttpEndpoint(port: 5080)
    .WithEnvironment("Orchestration__Mode", "Embedded")
    .WithEnvironment("Storage__Provider", "Sqlite")
    .WithEnvironment("Storage__SqlitePath", Path.Combine(builder.RepositoryRoot, ".data", "orchestration.db"));

await builder.Build().RunAsync();
