using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Grains;
using Orchestration.Grains.Events;
using Orchestration.Runtime;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Testing;
using Orchestration.Silo.Extensions;
using Orchestration.Testing;

namespace Orchestration.Silo.Tests.Grains;

/// <summary>The product's grains in a test cluster on the given storage, with a clock that moves only when told.</summary>
internal sealed class ProductCluster : IAsyncDisposable
{
    private readonly StorageChoice _storage;
    private readonly Action<SiloOptions>? _options;
    private TestCluster _cluster = null!;

    private ProductCluster(StorageChoice storage, ManualTimeProvider time, Action<SiloOptions>? options)
    {
        _storage = storage;
        Time = time;
        _options = options;
    }

    public ManualTimeProvider Time { get; }

    public IGrainFactory Grains => _cluster.GrainFactory;

    public IStreamLog Log => _cluster.Silos[0].Services.GetRequiredService<IStreamLog>();

    public IProjectionStore Projections => _cluster.Silos[0].Services.GetRequiredService<IProjectionStore>();

    public static async Task<ProductCluster> StartAsync(StorageChoice storage, Action<SiloOptions>? options = null)
    {
        var cluster = new ProductCluster(storage, new ManualTimeProvider(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero).AddTicks(4_321)), options);
        cluster._cluster = await cluster.StartClusterAsync();
        return cluster;
    }

    /// <summary>Moves the clock, letting every reminder tick finish at its own moment before the clock moves on.</summary>
    public Task AdvanceAsync(TimeSpan delta) => Time.AdvanceAsync(delta, async () =>
    {
        foreach (var silo in _cluster.Silos.Where(silo => !silo.IsStopped))
        {
            await silo.WhenRemindersIdleAsync();
        }
    });

    /// <summary>
    /// Stops the cluster (as a crash would: nothing but acknowledged writes survive) and starts a new one, the clock
    /// moved by <paramref name="downtime"/> in between: what fell due meanwhile is overdue, and fires when the clock
    /// next moves.
    /// </summary>
    public async Task RestartAsync(TimeSpan downtime = default)
    {
        await _cluster.DisposeAsync();
        Time.Advance(downtime);
        _cluster = await StartClusterAsync();
    }

    /// <summary>Every domain event of <paramref name="orgId"/> so far, oldest first.</summary>
    public async Task<IReadOnlyList<EventEnvelope>> EventsAsync(string orgId)
    {
        var events = await Log.ReadAsync(0, 100_000, orgId);
        return [.. events
            .Where(e => e.StreamId.Namespace == StreamNamespaces.Events)
            .Select(e => JsonSerializer.Deserialize(e.Data, GrainContractsJsonContext.Default.EventEnvelope)!)];
    }

    public async ValueTask DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _storage.DisposeAsync();
    }

    private Task<TestCluster> StartClusterAsync() => TestCluster.StartAsync(
        builder =>
        {
            builder.AddGrains(typeof(SiloHostingExtensions).Assembly);
            _storage.Apply(builder);
            if (_options is not null)
            {
                builder.Configure(_options);
            }
        },
        configureServices: services => services.AddSingleton<TimeProvider>(Time));
}
