using Orchestration.Testing;

namespace Orchestration.Runtime.Tests;

/// <summary>One throwaway PostgreSQL server for every Postgres-backed test class; each test takes a fresh database.</summary>
public sealed class PostgresServerFixture : IAsyncLifetime
{
    public EphemeralPostgres Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await EphemeralPostgres.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServerFixture>
{
    public const string Name = "Postgres";
}
