using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Orchestration.Testing;

namespace Orchestration.Api.Tests;

public sealed class StorageHealthTests(PostgresServerFixture postgres) : IClassFixture<PostgresServerFixture>
{
    [Fact]
    public async Task Cluster_OnPostgres_ReportsPostgresAndHealthy()
    {
        await using var factory = ApiFactory.WithPostgres(await postgres.Server.CreateDatabaseAsync());
        using var client = factory.CreatePlatformClient();

        var cluster = await client.GetFromJsonAsync<JsonElement>("/api/v1/cluster");

        Assert.Equal("Postgres", cluster.GetProperty("storageProvider").GetString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
    }

    [Fact]
    public async Task Health_PostgresGoesAway_Answers503WhileAliveStays200()
    {
        var connectionString = await postgres.Server.CreateDatabaseAsync();
        await using var factory = ApiFactory.WithPostgres(connectionString);
        using var client = factory.CreatePlatformClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);

        await using (var admin = new Npgsql.NpgsqlConnection(postgres.Server.ConnectionString))
        {
            await admin.OpenAsync();
            var database = new Npgsql.NpgsqlConnectionStringBuilder(connectionString).Database;
            await using var drop = new Npgsql.NpgsqlCommand($"DROP DATABASE {database} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/alive")).StatusCode);
    }
}
