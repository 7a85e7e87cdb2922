using Microsoft.Extensions.Hosting;

namespace Orchestration.Runtime;

/// <summary>Starts the silo with the host and stops it (deactivating every grain) when the host stops.</summary>
internal sealed class SiloHostedService(SiloRuntime runtime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => runtime.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => runtime.StopAsync(cancellationToken);
}
