using Orchestration.Testing;

namespace Orchestration.EndToEnd.Tests;

/// <summary>One throwaway PostgreSQL server for every Postgres-backed test class; each test takes a fresh database.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServerFixture>
{
    public const string Name = "Postgres";
}
