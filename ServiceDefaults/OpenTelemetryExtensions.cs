using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// OpenTelemetry without the hosting package (not in our feed): tracer and meter providers built by hand, registered
/// as singletons so the container disposes (and flushes) them on shutdown.
/// </summary>
internal static class OpenTelemetryExtensions
{
    /// <summary>Our own sources, plus the ones ASP.NET Core, HttpClient and Npgsql emit by themselves.</summary>
    private static readonly string[] s_activitySources = ["Orchestration.*", "Microsoft.AspNetCore", "System.Net.Http", "Npgsql"];

    private static readonly string[] s_meters =
    [
        "Orchestration.*", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Net.Http", "System.Runtime", "Npgsql",
    ];

    public static void AddOpenTelemetryExport(this IHostApplicationBuilder builder)
    {
        // Without an endpoint there is nowhere to send telemetry, and listening would only cost.
        if (string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            return;
        }

        var resource = ResourceBuilder.CreateDefault().AddService(
            builder.Configuration["OTEL_SERVICE_NAME"] ?? builder.Environment.ApplicationName);

        builder.Services.AddSingleton(_ => Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .AddSource(s_activitySources)
            .AddOtlpExporter()
            .Build());
        builder.Services.AddSingleton(_ => Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(s_meters)
            .AddOtlpExporter()
            .Build());
        builder.Services.AddHostedService<TelemetryActivator>();
    }

    /// <summary>Resolves the providers at start-up: they start listening only once created.</summary>
    private sealed class TelemetryActivator(TracerProvider tracerProvider, MeterProvider meterProvider) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            GC.KeepAlive(tracerProvider);
            GC.KeepAlive(meterProvider);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
