namespace Orchestration.Runtime.Testing;

/// <summary>A storage provider to run a grain-level test suite against, with a place that outlives one cluster.</summary>
public abstract class StorageChoice : IAsyncDisposable
{
    /// <summary>Configures a silo to use this storage (the same data every time it is called).</summary>
    public abstract void Apply(SiloBuilder builder);

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>One in-memory store for every cluster the test starts, so a restarted cluster finds what the last one stored.</summary>
    public sealed class Memory : StorageChoice
    {
        private readonly Runtime.Persistence.MemoryGrainStorage _storage = new();

        public override void Apply(SiloBuilder builder) => builder.UseStorageInstance(_storage);
    }

    public sealed class Sqlite : StorageChoice
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"orch-{Guid.NewGuid():N}.db");

        public override void Apply(SiloBuilder builder) => builder.UseSqliteStorage(Path);

        public override ValueTask DisposeAsync()
        {
            DeleteFiles(Path);
            return ValueTask.CompletedTask;
        }

        /// <summary>Deletes a SQLite database and its WAL and shared-memory files, after closing pooled connections to it.</summary>
        public static void DeleteFiles(string path)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var file in Directory.GetFiles(System.IO.Path.GetDirectoryName(path)!, System.IO.Path.GetFileName(path) + "*"))
            {
                File.Delete(file);
            }
        }
    }

    public sealed class Postgres(string connectionString) : StorageChoice
    {
        public string ConnectionString { get; } = connectionString;

        public override void Apply(SiloBuilder builder) => builder.UsePostgresStorage(ConnectionString);
    }
}
