using Orchestration.Testing;

namespace Orchestration.Api.Tests;

/// <summary>Where an Api test host keeps its data: a SQLite file or a fresh PostgreSQL database.</summary>
public abstract class ApiStorage : IDisposable
{
    /// <summary>The storage settings of the host.</summary>
    public abstract IReadOnlyDictionary<string, string?> Settings { get; }

    public virtual void Dispose()
    {
    }

    public sealed class Sqlite : ApiStorage
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"orch-api-{Guid.NewGuid():N}", "orchestration.db");

        public override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Sqlite",
            ["Storage:SqlitePath"] = Path,
        };

        public override void Dispose()
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            var directory = System.IO.Path.GetDirectoryName(Path)!;
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    public sealed class Postgres(string connectionString) : ApiStorage
    {
        public override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Postgres",
            ["ConnectionStrings:postgres"] = connectionString,
        };

        public static async Task<ApiStorage> CreateAsync(PostgresServerFixture fixture) => new Postgres(await fixture.Server.CreateDatabaseAsync());
    }
}
