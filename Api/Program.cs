using Orchestration.Api.Apis;
using Orchestration.Api.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApiServices();

var app = builder.Build();

app.UseApiPipeline();
app.MapDefaultEndpoints();
app.MapOpenApi();
app.MapClusterApi();
app.MapOrgsApi();
app.MapKeysApi();
app.MapSettingsApi();
app.MapAgentsApi();
app.MapTasksApi();
app.MapEventsApi();

app.Run();

// Public so tests can host the Api with WebApplicationFactory.
public partial class Program;
