using Orchestration.AppHost.Hosting;

namespace Orchestration.AppHost.Tests.Hosting;

/// <summary>The environment each replica gets in a run, and what the manifest writes instead.</summary>
public sealed class ProjectResourceTests
{
    [Fact]
    public void RunEnvironment_ClusterSiloReplica_GetsItsOwnPortsIdAndTheServer()
    {
        var (silo, postgres) = CreateSut();

        var first = silo.RunEnvironment(0).ToDictionary();
        var second = silo.RunEnvironment(1).ToDictionary();

        Assert.Equal("Cluster", first["Orchestration__Mode"]);
        Assert.Equal("Postgres", first["Storage__Provider"]);
        Assert.Equal(postgres.ConnectionString.Resolve(0), first["ConnectionStrings__postgres"]);
        Assert.Equal($"http://127.0.0.1:{silo.GetEndpoint("http").PortOf(0)}", first["ASPNETCORE_URLS"]);
        Assert.Equal(first["ASPNETCORE_URLS"], first["Urls"]);
        Assert.Equal(silo.GetEndpoint("silo").PortOf(0).ToString(System.Globalization.CultureInfo.InvariantCulture), first["Cluster__SiloPort"]);
        Assert.Equal("silo-0", first["Silo__SiloId"]);
        Assert.Equal("silo-1", second["Silo__SiloId"]);
        Assert.NotEqual(first["ASPNETCORE_URLS"], second["ASPNETCORE_URLS"]);
        Assert.NotEqual(first["Cluster__SiloPort"], second["Cluster__SiloPort"]);
        Assert.DoesNotContain("HTTP_PORTS", first.Keys);
    }

    [Fact]
    public void ManifestEnvironment_ClusterSilo_WritesExpressionsAndNoRunOnlyValues()
    {
        var (silo, _) = CreateSut();

        Assert.Equal(
            [
                KeyValuePair.Create("ASPNETCORE_FORWARDEDHEADERS_ENABLED", "true"),
                KeyValuePair.Create("HTTP_PORTS", "{silo.bindings.http.targetPort}"),
                KeyValuePair.Create("Orchestration__Mode", "Cluster"),
                KeyValuePair.Create("Storage__Provider", "Postgres"),
                KeyValuePair.Create("ConnectionStrings__postgres", "{postgres.connectionString}"),
                KeyValuePair.Create("Cluster__SiloPort", "{silo.bindings.silo.targetPort}"),
            ],
            silo.ManifestEnvironment());
    }

    [Fact]
    public void WithReference_ReplicatedService_ListsEveryReplicaInARunAndOneAddressInTheManifest()
    {
        var (silo, _) = CreateSut();
        var web = new ProjectResource("web", "/repo/Web/Web.csproj", "/repo/Web/bin/Web.dll").WithHttpEndpoint().WithReference(silo);

        var run = web.RunEnvironment(0).ToDictionary();

        Assert.Equal(silo.GetEndpoint("http").UrlOf(0), run["services__silo__http__0"]);
        Assert.Equal(silo.GetEndpoint("http").UrlOf(1), run["services__silo__http__1"]);
        Assert.Equal($"tcp://127.0.0.1:{silo.GetEndpoint("silo").PortOf(1)}", run["services__silo__silo__1"]);
        Assert.Contains(KeyValuePair.Create("services__silo__http__0", "{silo.bindings.http.url}"), web.ManifestEnvironment());
        Assert.DoesNotContain(web.ManifestEnvironment(), entry => entry.Key == "services__silo__http__1");
    }

    [Fact]
    public void WithOtlpExporter_CollectorConfigured_NamesTheServiceAndTheReplica()
    {
        var (silo, _) = CreateSut();
        Assert.DoesNotContain("OTEL_EXPORTER_OTLP_ENDPOINT", silo.RunEnvironment(0).ToDictionary().Keys);

        Environment.SetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317");
        try
        {
            var run = silo.RunEnvironment(1).ToDictionary();

            Assert.Equal("http://127.0.0.1:4317", run["OTEL_EXPORTER_OTLP_ENDPOINT"]);
            Assert.Equal("silo", run["OTEL_SERVICE_NAME"]);
            Assert.Equal("service.instance.id=silo-1", run["OTEL_RESOURCE_ATTRIBUTES"]);
            Assert.DoesNotContain(silo.ManifestEnvironment(), entry => entry.Key.StartsWith("OTEL_", StringComparison.Ordinal));
        }
        finally
        {
            Environment.SetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT", null);
        }
    }

    [Fact]
    public void WithHttpEndpoint_FixedPort_ListensOnLocalhostThere()
    {
        var api = new ProjectResource("api", "/repo/Api/Api.csproj", "/repo/Api/bin/Api.dll").WithHttpEndpoint(port: 5080, external: true);

        Assert.Equal("http://localhost:5080", api.RunEnvironment(0).ToDictionary()["Urls"]);
    }

    private static (ProjectResource Silo, PostgresServerResource Postgres) CreateSut()
    {
        var postgres = new PostgresServerResource("postgres", "/data/postgres", externalConnectionString: "Host=127.0.0.1;Port=5432;Username=postgres");
        var silo = new ProjectResource("silo", "/repo/Silo/Silo.csproj", "/repo/Silo/bin/Orchestration.Silo.dll")
            .WithOtlpExporter()
            .WithReplicas(2)
            .WithClusterStorage(postgres)
            .WithHttpEndpoint()
            .WithSiloEndpoint()
            .WithSiloId();
        return (silo, postgres);
    }
}
