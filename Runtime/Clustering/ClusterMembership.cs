using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Calls.Remote;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Transport;

namespace Orchestration.Runtime.Clustering;

/// <summary>
/// A process's part in the cluster, wired at start and unwound at stop: the membership table, the routing map, the
/// transport (a server on silos), the router and, on silos, the lease keeper. Start: listen, then join and take a
/// share. Stop (silos): hand every partition over while still listening, then stop listening.
/// </summary>
internal sealed partial class ClusterMembership : IAsyncDisposable
{
    /// <summary>
    /// How long a leaving silo waits for its activations to drain: well inside a host's default shutdown timeout
    /// (30 s), so the rest of the stop (flushing writes) still runs.
    /// </summary>
    private static readonly TimeSpan s_drainTimeout = TimeSpan.FromSeconds(10);

    private readonly SiloRuntime _runtime;
    private readonly ClusterSetup _setup;
    private readonly ClusterOptions _options;
    private readonly PostgresMembershipTable _table;
    private readonly ClusterMap _map;
    private readonly SiloTransportClient _client;
    private readonly CancellationTokenSource _stop = new();
    private SiloTransportServer? _server;
    private Task? _polling;
    private IAsyncDisposable? _hints;

    public ClusterMembership(SiloRuntime runtime, ClusterSetup setup, ClusterOptions options)
    {
        _runtime = runtime;
        _setup = setup;
        _options = options;
        _table = new PostgresMembershipTable(setup.ConnectionString);
        _map = new ClusterMap(_table);
        _client = new SiloTransportClient(runtime.Logger, runtime.TimeProvider);
    }

    public PartitionLeaseKeeper? Keeper { get; private set; }

    public ClusterMap Map => _map;

    /// <summary>Asks the silo at <paramref name="address"/> for its status (activation counts); null when it does not answer in time.</summary>
    public async Task<Management.SiloStatus?> AskStatusAsync(string address, TimeSpan timeout)
    {
        try
        {
            var request = RemoteCallCodec.WriteRequest(
                new GrainId(RemoteCallHandler.SiloStatusTarget, string.Empty), method: null, [], (int)timeout.TotalMilliseconds, null, _runtime.Json);
            var answer = await _client.SendAsync(address, request, timeout);
            var response = JsonSerializer.Deserialize(answer.Span, RemoteCallJsonContext.Default.RemoteCallResponse)!;
            return response.Result?.Deserialize(Management.RuntimeContractsJsonContext.Default.SiloStatus);
        }
        catch (Exception exception) when (exception is SiloUnreachableException or TimeoutException or SiloRequestFailedException or JsonException)
        {
            return null;
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _map.RefreshAsync(cancellationToken);
        string? address = null;
        if (_setup.ServesPartitions)
        {
            var handler = new RemoteCallHandler(_runtime);
            _server = await SiloTransportServer.StartAsync(IPAddress.Any, _options.SiloPort, handler, _runtime.Logger, cancellationToken, _runtime.TimeProvider);
            address = $"{_options.AdvertisedHost}:{_server.Port}";
        }

        var caller = new RemoteGrainCaller(_client, _map, _runtime.Json, _runtime.TimeProvider, _runtime.Options.ResponseTimeout, address, DeliverHere);
        var router = new PartitionedClusterRouter(_runtime, caller);
        _runtime.Router = router;
        if (address is null)
        {
            // A client learns of moved partitions from the NOTIFY that every take-over and release sends, and polls
            // besides (a notification can be lost while the listener reconnects).
            _hints = new PostgresNotificationListener(_setup.ConnectionString, PostgresMembershipTable.PartitionChannel,
                _ => RefreshQuietly(), _runtime.TimeProvider, _runtime.Logger);
            _polling = Task.Run(() => PollAsync(_stop.Token), CancellationToken.None);
            LogClientStarted(_runtime.Logger, _runtime.Options.SiloId);
            return;
        }

        var keeper = new PartitionLeaseKeeper(_table, _runtime.Options.SiloId, address, _options, _runtime.TimeProvider, _runtime.Logger, router)
        {
            SnapshotRead = _map.Update,
        };
        router.Keeper = keeper;
        Keeper = keeper;
        await keeper.StartAsync(cancellationToken);
    }

    private bool DeliverHere(GrainId target, Calls.IGrainMessage message)
    {
        if (_runtime.Router is not { } router || !router.IsLocal(_runtime, target))
        {
            return false;
        }

        _runtime.Dispatcher.DeliverLocally(target, message);
        return true;
    }

    /// <summary>Hands every partition over (its activations drain and write while the leases last), then stops listening.</summary>
    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        if (Keeper is { } keeper)
        {
            await keeper.LeaveAsync(s_drainTimeout, cancellationToken);
        }
    }

    private async Task PollAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.RenewInterval, _runtime.TimeProvider, stop);
                await _map.RefreshAsync(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                LogRefreshFailed(_runtime.Logger, exception);
            }
        }
    }

    private void RefreshQuietly() => _ = RefreshQuietlyAsync();

    private async Task RefreshQuietlyAsync()
    {
        try
        {
            await _map.RefreshAsync(_stop.Token);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogRefreshFailed(_runtime.Logger, exception);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_hints is not null)
        {
            await _hints.DisposeAsync();
        }

        if (_polling is not null)
        {
            await _polling;
        }

        if (Keeper is { } keeper)
        {
            await keeper.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        await _client.DisposeAsync();
        await _table.DisposeAsync();
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{SiloId} is a cluster client: it serves no partition and sends every call to its owner")]
    private static partial void LogClientStarted(ILogger logger, string siloId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The routing map could not be refreshed; the next round tries again")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
