using Orchestration.Silo.Extensions;

namespace Orchestration.Api.Extensions;

/// <summary>The Api's services and middleware.</summary>
internal static class ApiServiceExtensions
{
    /// <summary>
    /// Adds problem details, OpenAPI and, in embedded mode (<c>Orchestration:Mode</c> = <c>Embedded</c>, the default),
    /// an in-process silo.
    /// </summary>
    public static IHostApplicationBuilder AddApiServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = ProblemDetailsDefaults.Customize);
        builder.Services.AddOpenApi();
        builder.Services.ConfigureHttpJsonOptions(options => options.SerializerOptions.TypeInfoResolverChain.Add(ApiJsonContext.Default));

        var mode = builder.Configuration["Orchestration:Mode"] ?? "Embedded";
        if (!mode.Equals("Embedded", StringComparison.OrdinalIgnoreCase))
        {
            // The cluster client (routing to remote silos) arrives with multi-silo support.
            throw new InvalidOperationException($"Orchestration:Mode '{mode}' is not supported yet; use Embedded.");
        }

        builder.AddSiloServices();
        return builder;
    }

    /// <summary>Errors become RFC 9457 problem responses; unknown routes answer a problem 404.</summary>
    public static WebApplication UseApiPipeline(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }
}
