using Orchestration.AppHost.Hosting;

var builder = DistributedApplication.CreateBuilder(args);
var apiPort = builder.Setting("ORCHESTRATION_API_PORT", "5080");
var dataDirectory = builder.Setting("ORCHESTRATION_DATA_DIR", Path.Combine(builder.RepositoryRoot, ".data"));

// Services. Embedded mode: the Api hosts its silo in-process on SQLite, so nothing else needs to run.
// Postgres, Redis, silos ×N and the web app join this model in later steps.
builder.AddProject("api")
    .WithHttpEndpoint(port: int.Parse(apiPort, System.Globalization.CultureInfo.InvariantCulture))
    .WithEnvironment("Orchestration__Mode", "Embedded")
    .WithEnvironment("Storage__Provider", "Sqlite")
    .WithEnvironment("Storage__SqlitePath", Path.Combine(dataDirectory, "orchestration.db"));

await builder.Build().RunAsync();
