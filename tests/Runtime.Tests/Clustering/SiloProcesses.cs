using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Clustering;
using Orchestration.Runtime.Placement;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Clustering;

/// <summary>
/// Silos of one cluster on one Postgres database, each with a container of its own as a separate process would have,
/// all running this assembly's test grains; stopped in the reverse order they started.
/// </summary>
internal sealed class SiloProcesses : IAsyncDisposable
{
    private readonly List<ServiceProvider> _processes = [];

    private SiloProcesses(string connectionString) => ConnectionString = connectionString;

    public string ConnectionString { get; }

    /// <summary>A cluster in a fresh database of <paramref name="postgres"/>.</summary>
    public static async Task<SiloProcesses> CreateAsync(PostgresServerFixture postgres) =>
        new(await postgres.Server.CreateDatabaseAsync());

    /// <summary>Starts a silo; <paramref name="addServices"/> adds what its grains need (a probe, a census, a clock).</summary>
    public async Task<SiloRuntime> StartAsync(string siloId, bool servesPartitions, Action<IServiceCollection> addServices)
    {
        var services = new ServiceCollection();
        addServices(services);
        services.AddSilo(builder => builder
            .AddGrains(typeof(SiloProcesses).Assembly)
            .UseCluster(ConnectionString, servesPartitions)
            .Configure(options => options.SiloId = siloId));
        var provider = services.BuildServiceProvider();
        _processes.Add(provider);
        var runtime = provider.GetRequiredService<SiloRuntime>();
        await runtime.StartAsync(CancellationToken.None);
        return runtime;
    }

    /// <summary>
    /// Where <paramref name="partition"/> ranks among <paramref name="siloId"/>'s partitions by rendezvous weight: when a
    /// second silo joins, a silo holding every partition hands over those ranked below half (its lowest-weight half).
    /// </summary>
    public static int RankOf(string siloId, int partition) =>
        Enumerable.Range(0, ClusterPartitions.Count)
            .OrderBy(p => RendezvousHash.Weight(siloId, new GrainId("partition", p.ToString(CultureInfo.InvariantCulture))))
            .ToList()
            .IndexOf(partition);

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes))
        {
            await process.DisposeAsync();
        }
    }
}
