using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orchestration.Api.Auth;
using Orchestration.Api.Bootstrap;
using Orchestration.Silo.Extensions;

namespace Orchestration.Api.Extensions;

/// <summary>The Api's services and middleware.</summary>
internal static class ApiServiceExtensions
{
    /// <summary>
    /// Adds problem details, OpenAPI, API-key authentication and role policies, per-key rate limits, idempotency, the
    /// first-start bootstrap and, in embedded mode (<c>Orchestration:Mode</c> = <c>Embedded</c>, the default), an
    /// in-process silo.
    /// </summary>
    public static IHostApplicationBuilder AddApiServices(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddProblemDetails(options => options.CustomizeProblemDetails = ProblemDetailsDefaults.Customize);
        services.AddExceptionHandler<ApiExceptionHandler>();
        services.AddSingleton<ApiExceptionHandler>();
        services.AddOpenApi();
        services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default);
            // API.md: a wrong type is 400. The web defaults read "90" as the number 90; a number must be a JSON number.
            options.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });
        // Body binding errors throw (mapped to 400 invalid_json by ApiExceptionHandler) in every environment.
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.AddOptions<ApiOptions>().Bind(builder.Configuration.GetSection(ApiOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ApiOptions>, ApiOptionsValidator>());
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<ApiOptions>>((kestrel, api) => RequestLimitsMiddleware.ConfigureKestrel(kestrel, api.Value));

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder().AddApiPolicies();
        services.AddSingleton<KeyRateLimiter>();

        // Embedded: a silo in this process. Cluster: a client that serves no partition and sends every call to its owner.
        builder.AddSiloServices(servesPartitions: false);
        // Hosted services start in registration order: after the silo's.
        services.AddHostedService<BootstrapService>();
        return builder;
    }

    /// <summary>
    /// Errors become RFC 9457 problem responses; unknown routes answer a problem 404. Then: request size limits, routing,
    /// authentication, the per-key rate limit, authorization (a key for every /api/v1 path, served or not) and
    /// idempotency, in that order.
    /// </summary>
    public static WebApplication UseApiPipeline(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseMiddleware<RequestLimitsMiddleware>();
        app.UseRouting();
        app.UseAuthentication();
        app.UseMiddleware<RateLimitMiddleware>();
        app.UseAuthorization();
        app.UseMiddleware<ApiKeyEverywhereMiddleware>();
        app.UseMiddleware<IdempotencyMiddleware>();
        return app;
    }
}
