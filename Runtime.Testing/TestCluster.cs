using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Persistence;

namespace Orchestration.Runtime.Testing;

/// <summary>
/// An in-process cluster for grain tests, like Orleans' TestingHost: one or more silos in the test process sharing one
/// storage. Grains are placed on silos by rendezvous hashing; calls between silos skip serialization.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    private readonly Action<SiloBuilder> _configure;
    private readonly Action<IServiceCollection>? _configureServices;
    private readonly InProcessClusterRouter _router = new();
    private readonly List<TestSilo> _silos = [];
    private IGrainStorage? _sharedStorage;

    private TestCluster(Action<SiloBuilder> configure, Action<IServiceCollection>? configureServices)
    {
        _configure = configure;
        _configureServices = configureServices;
    }

    /// <summary>The running silos, in start order.</summary>
    public IReadOnlyList<TestSilo> Silos => _silos;

    /// <summary>A grain factory that calls into the cluster (through the first silo, which routes to the owner).</summary>
    public IGrainFactory GrainFactory => _silos.First(silo => !silo.IsStopped).GrainFactory;

    /// <summary>Starts <paramref name="siloCount"/> silos configured by <paramref name="configure"/>.</summary>
    /// <param name="configure">Grain assemblies, storage and options, applied to every silo.</param>
    /// <param name="siloCount">How many silos; default 1.</param>
    /// <param name="configureServices">Extra services for every silo (for example a fake TimeProvider).</param>
    public static async Task<TestCluster> StartAsync(Action<SiloBuilder> configure, int siloCount = 1, Action<IServiceCollection>? configureServices = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(siloCount, 1);
        var cluster = new TestCluster(configure, configureServices);
        for (var i = 0; i < siloCount; i++)
        {
            await cluster.StartSiloAsync();
        }

        return cluster;
    }

    /// <summary>
    /// Starts one more silo. Grains that now hash to it deactivate where they were (after their current turn) and
    /// reactivate on it; until the old activation is gone, calls wait for it, so no grain is ever active twice.
    /// </summary>
    public async Task<TestSilo> StartSiloAsync()
    {
        var services = new ServiceCollection();
        _configureServices?.Invoke(services);
        services.AddSilo(builder =>
        {
            _configure(builder);
            builder.Configure(options => options.SiloId = $"test-silo-{_silos.Count}");
        });

        // Every silo shares the storage the first one created, as silos of one cluster share a database.
        if (_sharedStorage is not null)
        {
            services.AddSingleton(_sharedStorage);
        }

        var provider = services.BuildServiceProvider();
        var runtime = provider.GetRequiredService<SiloRuntime>();
        _sharedStorage ??= runtime.Storage;
        runtime.Router = _router;
        await runtime.StartAsync(CancellationToken.None);
        var silo = new TestSilo(provider, runtime);
        _silos.Add(silo);
        _router.Add(runtime);
        foreach (var other in _silos.Where(other => other != silo && !other.IsStopped))
        {
            other.Runtime.DeactivateMisplacedActivations();
        }

        return silo;
    }

    /// <summary>
    /// Stops a silo gracefully: its grains deactivate (and may save), and later calls reach the survivors. Calls still
    /// running after 10 s are abandoned.
    /// </summary>
    public async Task StopSiloAsync(TestSilo silo)
    {
        _router.Remove(silo.Runtime);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await silo.Runtime.StopAsync(timeout.Token);
    }

    /// <summary>Stops a silo, then starts a fresh one on the same storage.</summary>
    public async Task<TestSilo> RestartSiloAsync(TestSilo silo)
    {
        await StopSiloAsync(silo);
        return await StartSiloAsync();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var silo in _silos.Where(silo => !silo.IsStopped))
        {
            await StopSiloAsync(silo);
        }

        foreach (var silo in _silos)
        {
            // The shared storage belongs to the first silo's container; dispose that one last.
            if (silo != _silos[0])
            {
                await silo.Services.DisposeAsync();
            }
        }

        if (_silos.Count > 0)
        {
            await _silos[0].Services.DisposeAsync();
        }
    }
}
