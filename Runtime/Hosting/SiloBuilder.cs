using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Persistence;

namespace Orchestration.Runtime;

/// <summary>Configures a silo: its grain assemblies, its storage and its options.</summary>
public sealed class SiloBuilder
{
    private readonly List<Assembly> _assemblies = [typeof(SiloBuilder).Assembly];
    private readonly List<Action<SiloOptions>> _configure = [];
    private Func<TimeProvider, ILoggerFactory, IGrainStorage> _createStorage = (_, _) => new SqliteGrainStorage(DefaultSqlitePath, TimeProvider.System);

    /// <summary>The SQLite file used when nothing else is configured: <c>.data/orchestration.db</c> under the working directory.</summary>
    public const string DefaultSqlitePath = ".data/orchestration.db";

    internal IReadOnlyList<Assembly> Assemblies => _assemblies;

    internal Clustering.ClusterSetup? Cluster { get; private set; }

    internal Clustering.ClusterOptions ClusterOptions { get; private set; } = new();

    /// <summary>
    /// Joins a cluster of processes on PostgreSQL (the storage must be the same database): as a silo that serves its
    /// share of partitions, or, with <paramref name="servesPartitions"/> false, as a client that serves none and sends
    /// every call to the owner (the Api in cluster mode).
    /// </summary>
    public SiloBuilder UseCluster(string connectionString, bool servesPartitions = true, Clustering.ClusterOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var clusterOptions = options ?? new Clustering.ClusterOptions();
        if (clusterOptions.Validate().ToList() is { Count: > 0 } errors)
        {
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
        }

        Cluster = new Clustering.ClusterSetup(connectionString, servesPartitions);
        ClusterOptions = clusterOptions;
        return UsePostgresStorage(connectionString);
    }

    /// <summary>Registers every grain class in <paramref name="assembly"/>.</summary>
    public SiloBuilder AddGrains(Assembly assembly)
    {
        _assemblies.Add(assembly);
        return this;
    }

    /// <summary>Changes options; runs after the defaults, in order of registration.</summary>
    public SiloBuilder Configure(Action<SiloOptions> configure)
    {
        _configure.Add(configure);
        return this;
    }

    /// <summary>Keeps everything in memory: for tests only, nothing survives the process.</summary>
    public SiloBuilder UseMemoryStorage()
    {
        _createStorage = (_, _) => new MemoryGrainStorage();
        return this;
    }

    /// <summary>Stores everything in one SQLite file (the embedded default).</summary>
    public SiloBuilder UseSqliteStorage(string path = DefaultSqlitePath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        _createStorage = (time, _) => new SqliteGrainStorage(path, time);
        return this;
    }

    /// <summary>Stores everything in PostgreSQL; the schema is created or migrated at start-up.</summary>
    public SiloBuilder UsePostgresStorage(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _createStorage = (time, loggers) => new PostgresGrainStorage(connectionString, time, loggers.CreateLogger("Orchestration.Runtime"));
        return this;
    }

    /// <summary>
    /// Chooses storage from configuration: <c>Storage:Provider</c> is <c>Sqlite</c> (default), <c>Postgres</c> or
    /// <c>Memory</c>; Postgres reads <c>ConnectionStrings:postgres</c>, SQLite reads <c>Storage:SqlitePath</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The provider is unknown, or Postgres has no connection string.</exception>
    public SiloBuilder UseStorage(IConfiguration configuration)
    {
        var provider = configuration["Storage:Provider"] ?? "Sqlite";
        return provider.ToLowerInvariant() switch
        {
            "sqlite" => UseSqliteStorage(configuration["Storage:SqlitePath"] ?? DefaultSqlitePath),
            "postgres" => UsePostgresStorage(configuration.GetConnectionString("postgres")
                ?? throw new InvalidOperationException("Storage:Provider is Postgres but ConnectionStrings:postgres is not set.")),
            "memory" => UseMemoryStorage(),
            _ => throw new InvalidOperationException($"Storage:Provider '{provider}' is unknown; use Sqlite, Postgres or Memory."),
        };
    }

    /// <summary>Uses an existing storage instance, so several clusters in one test can share in-memory data.</summary>
    internal SiloBuilder UseStorageInstance(IGrainStorage storage)
    {
        _createStorage = (_, _) => storage;
        return this;
    }

    internal IGrainStorage CreateStorage(TimeProvider timeProvider, ILoggerFactory loggerFactory) => _createStorage(timeProvider, loggerFactory);

    internal void ApplyConfiguration(SiloOptions options)
    {
        foreach (var configure in _configure)
        {
            configure(options);
        }
    }
}
