using Orchestration.Silo.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddSiloServices();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
