namespace Orchestration.AppHost.Hosting;

/// <summary>Telemetry wiring every project gets, as Aspire's <c>WithOtlpExporter</c>.</summary>
internal static class TelemetryExtensions
{
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>
    /// When a collector is configured (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c> in the AppHost's environment), a run passes it
    /// on with <c>OTEL_SERVICE_NAME</c> = the resource's name and <c>OTEL_RESOURCE_ATTRIBUTES=service.instance.id=</c>
    /// the replica's name, which tells replicas apart (and <c>OTEL_EXPORTER_OTLP_PROTOCOL</c> when set). Not written to
    /// the manifest: a deployment brings its own collector.
    /// </summary>
    public static ProjectResource WithOtlpExporter(this ProjectResource project)
    {
        static string? Collector() => Environment.GetEnvironmentVariable(OtlpEndpointVariable) is { Length: > 0 } endpoint ? endpoint : null;

        return project.WithEnvironment(() =>
        [
            KeyValuePair.Create(OtlpEndpointVariable, ValueExpression.RunOnly(_ => Collector())),
            KeyValuePair.Create("OTEL_EXPORTER_OTLP_PROTOCOL", ValueExpression.RunOnly(_ =>
                Collector() is null ? null : Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_PROTOCOL") is { Length: > 0 } protocol ? protocol : null)),
            KeyValuePair.Create("OTEL_SERVICE_NAME", ValueExpression.RunOnly(_ => Collector() is null ? null : project.Name)),
            KeyValuePair.Create("OTEL_RESOURCE_ATTRIBUTES", ValueExpression.RunOnly(replica =>
                Collector() is null ? null : $"service.instance.id={project.ReplicaName(replica)}")),
        ]);
    }
}
