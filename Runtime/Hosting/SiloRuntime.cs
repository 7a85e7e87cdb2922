using System.Text.Json;
using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Activations;
using Orchestration.Runtime.Calls;
using Orchestration.Runtime.Clustering;
using Orchestration.Runtime.Management;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Placement;
using Orchestration.Runtime.Reminders;
using Orchestration.Runtime.Streams;

namespace Orchestration.Runtime;

/// <summary>
/// One silo: the parts of the runtime wired together, and their start and stop order. Activations reach every part
/// through this one object instead of a dozen references each.
/// </summary>
internal sealed partial class SiloRuntime : IAsyncDisposable
{
    private readonly CancellationTokenSource _shutdown = new();
    private ClusterMembership? _cluster;
    private readonly Lock _stopGate = new();
    private volatile bool _stopped;
    private Task? _stopping;

    public SiloRuntime(
        IServiceProvider services,
        SiloOptions options,
        TimeProvider timeProvider,
        GrainTypeRegistry registry,
        IGrainStorage storage,
        RuntimeInstruments instruments,
        ILoggerFactory loggerFactory)
    {
        Services = services;
        Options = options;
        TimeProvider = timeProvider;
        Registry = registry;
        Storage = storage;
        Instruments = instruments;
        Logger = loggerFactory.CreateLogger("Orchestration.Runtime");
        Json = options.Json;
        Directory = new ActivationDirectory(this);
        Dispatcher = new GrainCallDispatcher(this);
        GrainFactory = new GrainFactory(registry, Dispatcher);
        StreamLog = new StreamLog(storage, options, timeProvider, Logger);
        Batcher = new WriteBatcher(storage, StreamLog, options, timeProvider, instruments, Logger);
        Reminders = new ReminderService(this);
        Collector = new ActivationCollector(this);
        StreamDelivery = new ImplicitStreamDelivery(this);
        instruments.ObserveQueuedTurns(() => Directory.All.Sum(activation => (long)activation.QueuedCount));
    }

    public IServiceProvider Services { get; }

    public ActivationCollector Collector { get; }

    public SiloOptions Options { get; }

    public TimeProvider TimeProvider { get; }

    public GrainTypeRegistry Registry { get; }

    public IGrainStorage Storage { get; }

    public RuntimeInstruments Instruments { get; }

    public ILogger Logger { get; }

    public JsonSerializerOptions Json { get; }

    public ActivationDirectory Directory { get; }

    public GrainCallDispatcher Dispatcher { get; }

    public GrainFactory GrainFactory { get; }

    public StreamLog StreamLog { get; }

    public WriteBatcher Batcher { get; }

    public ReminderService Reminders { get; }

    /// <summary>Runs the implicit stream subscriptions this silo leads.</summary>
    internal ImplicitStreamDelivery StreamDelivery { get; }

    /// <summary>Set when the silo is part of a cluster; null means every grain is local.</summary>
    public IClusterRouter? Router { get; set; }

    public CancellationToken ShutdownToken => _shutdown.Token;

    /// <summary>This process's part in a cluster of processes; null outside one.</summary>
    internal ClusterMembership? Cluster => _cluster;

    public bool IsStopped => _stopped;

    public DateTimeOffset StartedAt { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await Storage.InitializeAsync(cancellationToken);
        await StreamLog.StartAsync(cancellationToken);
        Batcher.Start();
        if (Services.GetService(typeof(ClusterSetup)) is ClusterSetup cluster)
        {
            _cluster = new ClusterMembership(this, cluster, (ClusterOptions)Services.GetService(typeof(ClusterOptions))!);
            await _cluster.StartAsync(cancellationToken);
        }

        await Reminders.StartAsync(cancellationToken);
        StreamDelivery.Start();
        Collector.Start();
        StartedAt = TimeProvider.GetUtcNow();
        LogStarted(Logger, Options.SiloId, Storage.ProviderName);
    }

    /// <summary>
    /// Deactivates every activation (so grains can save), then stops background work and drains writes. Every caller
    /// (the host, the container's dispose) awaits the same stop.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_stopGate)
        {
            return _stopping ??= StopCoreAsync(cancellationToken);
        }
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        if (_cluster is not null)
        {
            // First hand every partition over while calls can still reach this silo: callers wait for the next owner.
            // A leave that fails (the database gone, the host's patience over) must not abort the stop: the leases then
            // lapse on their own and the rest of the stop still flushes writes and frees resources.
            try
            {
                await _cluster.LeaveAsync(cancellationToken);
            }
            catch (Exception exception)
            {
                LogLeaveFailed(Logger, Options.SiloId, exception);
            }
        }

        _stopped = true;
        await Collector.DisposeAsync();
        await StreamDelivery.DisposeAsync();
        await Reminders.DisposeAsync();
        foreach (var activation in Directory.All)
        {
            activation.RequestDeactivation(DeactivationReason.ShuttingDown);
        }

        try
        {
            await Directory.WhenEmptyAsync().WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            LogDeactivationAbandoned(Logger, Options.SiloId, Directory.Count);
        }

        await _shutdown.CancelAsync();
        await Batcher.DisposeAsync();
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        await StreamLog.DisposeAsync();
        LogStopped(Logger, Options.SiloId);
    }

    /// <summary>Deactivates the activations of grains another silo now owns (the set of silos changed).</summary>
    public void DeactivateMisplacedActivations()
    {
        if (Router is not { } router)
        {
            return;
        }

        foreach (var activation in Directory.All)
        {
            if (!router.IsLocal(this, activation.GrainId))
            {
                activation.RequestDeactivation(DeactivationReason.PlacementChanged);
            }
        }
    }

    public SiloStatus GetStatus()
    {
        var byType = Directory.All
            .GroupBy(activation => activation.GrainId.Type)
            .ToDictionary(group => group.Key, group => group.Count());
        return new SiloStatus(
            Options.SiloId,
            Options.Address,
            _stopped ? "shutting_down" : "active",
            StartedAt,
            TimeProvider.GetUtcNow(),
            byType.Values.Sum(),
            byType);
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await StopAsync(timeout.Token);
        _shutdown.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {SiloId} started on {StorageProvider} storage")]
    private static partial void LogStarted(ILogger logger, string siloId, string storageProvider);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {SiloId} stopped waiting for {Count} activations to deactivate")]
    private static partial void LogDeactivationAbandoned(ILogger logger, string siloId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {SiloId} could not leave the cluster gracefully; its leases lapse on their own")]
    private static partial void LogLeaveFailed(ILogger logger, string siloId, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {SiloId} stopped")]
    private static partial void LogStopped(ILogger logger, string siloId);
}
