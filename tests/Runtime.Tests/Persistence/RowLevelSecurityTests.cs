using Npgsql;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Streams;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Persistence;

/// <summary>
/// PostgreSQL's second wall behind the WHERE clause: as <c>orch_tenant_reader</c>, a query with no filter at all sees
/// only the tenant bound in <c>app.current_org</c>, and nothing when none is bound.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RowLevelSecurityTests(PostgresServerFixture postgres) : IAsyncLifetime
{
    private string _connectionString = null!;
    private PostgresGrainStorage _storage = null!;

    public async Task InitializeAsync()
    {
        _connectionString = await postgres.Server.CreateDatabaseAsync();
        _storage = new PostgresGrainStorage(_connectionString);
        await _storage.InitializeAsync(CancellationToken.None);
        var at = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
        await _storage.CommitAsync(
            [StorageWrite.OutboxOnly(new CallOutbox(
                [Event("acme/t1"), Event("globex/t1"), Event("/no-tenant")],
                [Row("acme"), Row("globex"), Row(string.Empty)],
                []))],
            CancellationToken.None);

        // The empty tenant is what an unset setting would match if the policy compared with '' (see the pooled-session test).
        EventDraft Event(string key) => new(new StreamId("board", key), "e", at, "{}");
        static ProjectionChange Row(string tenant) => ProjectionChange.Set(new ProjectionRow("tasks", tenant, "t1", "{}"));
    }

    public async Task DisposeAsync() => await _storage.DisposeAsync();

    [Theory]
    [InlineData("orch_projections")]
    [InlineData("orch_events")]
    public async Task SelectWithoutWhere_AsTenantReaderBoundToATenant_SeesOnlyThatTenant(string table) =>
        Assert.Equal(["acme"], await TenantsVisibleAsync(table, "acme"));

    [Theory]
    [InlineData("orch_projections")]
    [InlineData("orch_events")]
    public async Task SelectWithoutWhere_AsTenantReaderWithNoTenantBound_SeesNothing(string table) =>
        Assert.Empty(await TenantsVisibleAsync(table, tenant: null));

    [Fact]
    public async Task SelectWithoutWhere_AfterATransactionThatBoundATenant_SeesNothing()
    {
        // The pooled-session case: once set, the setting reads as '' (not NULL) after its transaction ends.
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await TenantsVisibleAsync(connection, "orch_projections", "acme");

        Assert.Empty(await TenantsVisibleAsync(connection, "orch_projections", tenant: null));
    }

    [Fact]
    public async Task SelectWithoutWhere_AsTableOwner_SeesEveryTenant() =>
        Assert.Equal(["", "acme", "globex"], await QueryTenantsAsync("SELECT tenant FROM orch_projections ORDER BY tenant"));

    [Fact]
    public async Task TenantReads_RunAsTheTenantReader_FailWhenItMayNotRead()
    {
        await using (var connection = new NpgsqlConnection(_connectionString))
        {
            await connection.OpenAsync();
            await using var revoke = new NpgsqlCommand("REVOKE SELECT ON orch_projections, orch_events FROM orch_tenant_reader", connection);
            await revoke.ExecuteNonQueryAsync();
        }

        var query = await Assert.ThrowsAsync<PostgresException>(() => _storage.QueryProjectionsAsync(new ProjectionQuery("tasks", "acme"), CancellationToken.None));
        var events = await Assert.ThrowsAsync<PostgresException>(() => _storage.ReadTenantEventsAsync("acme", 0, 10, CancellationToken.None));
        var platform = await _storage.QueryProjectionsAsync(new ProjectionQuery("tasks", null), CancellationToken.None);

        Assert.Equal((PostgresErrorCodes.InsufficientPrivilege, PostgresErrorCodes.InsufficientPrivilege), (query.SqlState, events.SqlState));
        Assert.Equal(3, platform.Items.Count);
    }

    private async Task<List<string>> TenantsVisibleAsync(string table, string? tenant)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        return await TenantsVisibleAsync(connection, table, tenant);
    }

    private static async Task<List<string>> TenantsVisibleAsync(NpgsqlConnection connection, string table, string? tenant)
    {
        await using var transaction = await connection.BeginTransactionAsync();
        if (tenant is not null)
        {
            await using var bind = new NpgsqlCommand("SELECT set_config('app.current_org', $1, true)", connection, transaction);
            bind.Parameters.Add(new NpgsqlParameter { Value = tenant });
            await bind.ExecuteNonQueryAsync();
        }

        await using (var role = new NpgsqlCommand("SET LOCAL ROLE orch_tenant_reader", connection, transaction))
        {
            await role.ExecuteNonQueryAsync();
        }

        var tenants = await ReadTenantsAsync(new NpgsqlCommand($"SELECT tenant FROM {table}", connection, transaction));
        await transaction.CommitAsync();
        return tenants;
    }

    private async Task<List<string>> QueryTenantsAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        return await ReadTenantsAsync(new NpgsqlCommand(sql, connection));
    }

    private static async Task<List<string>> ReadTenantsAsync(NpgsqlCommand command)
    {
        await using (command)
        {
            await using var reader = await command.ExecuteReaderAsync();
            var tenants = new List<string>();
            while (await reader.ReadAsync())
            {
                tenants.Add(reader.GetString(0));
            }

            return tenants;
        }
    }
}
