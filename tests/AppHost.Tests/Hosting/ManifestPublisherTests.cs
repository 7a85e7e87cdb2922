using System.Text.Json;
using Orchestration.AppHost.Hosting;

namespace Orchestration.AppHost.Tests.Hosting;

public sealed class ManifestPublisherTests
{
    [Fact]
    public void Write_ManifestInAnotherFolder_PathsAreRelativeToIt()
    {
        var api = new ProjectResource("api", "/repo/Api/Api.csproj", "/repo/Api/bin/Api.dll").WithHttpEndpoint(port: 5080, external: true);

        var manifest = JsonDocument.Parse(ManifestPublisher.Write([api], "/repo/deploy/manifests")).RootElement;

        Assert.Equal("../../Api/Api.csproj", manifest.GetProperty("resources").GetProperty("api").GetProperty("path").GetString());
    }

    [Fact]
    public void Write_SameModelTwice_SameBytesWithLfAndAFinalNewline()
    {
        var first = ManifestPublisher.Write(CreateSut(), "/repo");
        var second = ManifestPublisher.Write(CreateSut(), "/repo");

        Assert.Equal(first, second);
        Assert.DoesNotContain('\r', first);
        Assert.EndsWith("}\n", first, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_Postgres_IsTheContainerAndGeneratedPasswordAspireDescribes()
    {
        var resources = JsonDocument.Parse(ManifestPublisher.Write(CreateSut(), "/repo")).RootElement.GetProperty("resources");

        var postgres = resources.GetProperty("postgres");
        Assert.Equal(["postgres", "postgres-password"], resources.EnumerateObject().Select(resource => resource.Name));
        Assert.Equal("container.v0", postgres.GetProperty("type").GetString());
        Assert.Equal("docker.io/library/postgres:17.6", postgres.GetProperty("image").GetString());
        Assert.Equal(
            "Host={postgres.bindings.tcp.host};Port={postgres.bindings.tcp.port};Username=postgres;Password={postgres-password.value}",
            postgres.GetProperty("connectionString").GetString());
        Assert.Equal("{postgres-password.value}", postgres.GetProperty("env").GetProperty("POSTGRES_PASSWORD").GetString());
        Assert.Equal(5432, postgres.GetProperty("bindings").GetProperty("tcp").GetProperty("targetPort").GetInt32());
        var password = resources.GetProperty("postgres-password");
        Assert.Equal("{postgres-password.inputs.value}", password.GetProperty("value").GetString());
        Assert.True(password.GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean());
    }

    private static IResource[] CreateSut()
    {
        var postgres = new PostgresServerResource("postgres", "/data/postgres", externalConnectionString: null);
        return [postgres, postgres.Password];
    }
}
