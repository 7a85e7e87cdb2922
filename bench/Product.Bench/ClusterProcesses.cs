using Orchestration.EndToEnd.Tests;

namespace Orchestration.Product.Bench;

/// <summary>
/// Three silo processes and the Api in cluster mode on one database, started in that order (the Api once every
/// partition is served) and stopped in reverse.
/// </summary>
internal sealed class ClusterProcesses : IAsyncDisposable
{
    public static readonly string[] SiloIds = ["silo-0", "silo-1", "silo-2"];

    private readonly List<HostProcess> _processes = [];

    public IReadOnlyList<HostProcess> Silos => _processes.Take(SiloIds.Length).ToList();

    public HostProcess Api => _processes[SiloIds.Length];

    public static async Task<ClusterProcesses> StartAsync(string database)
    {
        var cluster = new ClusterProcesses();
        try
        {
            foreach (var id in SiloIds)
            {
                cluster._processes.Add(await HostProcess.StartSiloAsync(id, database));
            }

            cluster._processes.Add(await HostProcess.StartApiAsync(new Dictionary<string, string>
            {
                ["Orchestration:Mode"] = "Cluster",
                ["ConnectionStrings:postgres"] = database,
                ["Logging:LogLevel:Default"] = "Warning",
            }));
            await ClusterView.WhenServedByAsync(cluster.Api, SiloIds); // no partition moves while measuring
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes))
        {
            await process.DisposeAsync();
        }
    }
}
