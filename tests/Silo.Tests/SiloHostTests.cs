using System.Net;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime;
using Orchestration.Runtime.Management;

namespace Orchestration.Silo.Tests;

/// <summary>The silo host as deployed: storage chosen by configuration, health endpoints, clear start-up errors.</summary>
public sealed class SiloHostTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("orch-silo-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Start_SqliteByDefault_HealthyAndStoresInTheConfiguredFile()
    {
        var path = Path.Combine(_directory, "silo.db");
        await using var silo = CreateSut(("Storage:SqlitePath", path));
        using var client = silo.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/alive")).StatusCode);
        var status = await silo.Services.GetRequiredService<IGrainFactory>()
            .GetGrain<IManagementGrain>(IManagementGrain.DefaultKey).GetClusterStatusAsync();
        Assert.Equal("Sqlite", status.StorageProvider);
        Assert.True(File.Exists(path));
    }

    [Fact]
    public async Task Start_SiloSectionConfigured_BindsOptions()
    {
        await using var silo = CreateSut(("Storage:Provider", "Memory"), ("Silo:SiloId", "silo-east-1"), ("Silo:ResponseTimeout", "00:00:05"));
        using var client = silo.CreateClient();

        var status = await silo.Services.GetRequiredService<IGrainFactory>()
            .GetGrain<IManagementGrain>(IManagementGrain.DefaultKey).GetClusterStatusAsync();

        Assert.Equal("silo-east-1", Assert.Single(status.Silos).SiloId);
        Assert.Equal(TimeSpan.FromSeconds(5), silo.Services.GetRequiredService<SiloOptions>().ResponseTimeout);
    }

    [Theory]
    [InlineData("Oracle", "Storage:Provider 'Oracle' is unknown; use Sqlite, Postgres or Memory.")]
    [InlineData("Postgres", "Storage:Provider is Postgres but ConnectionStrings:postgres is not set.")]
    public async Task Start_StorageMisconfigured_FailsWithAPlainMessage(string provider, string message)
    {
        await using var silo = CreateSut(("Storage:Provider", provider));

        var exception = Assert.Throws<InvalidOperationException>(() => silo.CreateClient());

        Assert.Equal(message, exception.Message);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Start_InvalidSiloOptions_ReportsEveryErrorTogether()
    {
        await using var silo = CreateSut(("Storage:Provider", "Memory"), ("Silo:ResponseTimeout", "00:00:00"), ("Silo:MaxWriteBatchSize", "0"));

        var exception = Assert.ThrowsAny<Exception>(() => silo.CreateClient());

        var text = exception.ToString();
        Assert.Contains("ResponseTimeout must be positive.", text);
        Assert.Contains("MaxWriteBatchSize must be at least 1.", text);
    }

    private WebApplicationFactory<Program> CreateSut(params (string Key, string Value)[] settings) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("Storage:SqlitePath", Path.Combine(_directory, "default.db"));
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
        });
}
