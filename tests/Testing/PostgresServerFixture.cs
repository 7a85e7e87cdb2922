using Xunit;

namespace Orchestration.Testing;

/// <summary>An xunit fixture holding one throwaway PostgreSQL server; tests take fresh databases from it.</summary>
public sealed class PostgresServerFixture : IAsyncLifetime
{
    public EphemeralPostgres Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await EphemeralPostgres.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
