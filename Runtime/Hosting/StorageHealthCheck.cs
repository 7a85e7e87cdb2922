using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Orchestration.Runtime;

/// <summary>Ready when the silo's storage answers.</summary>
internal sealed class StorageHealthCheck(SiloRuntime runtime) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await runtime.Storage.CheckHealthAsync(cancellationToken);
            return HealthCheckResult.Healthy($"{runtime.Storage.ProviderName} storage is reachable.");
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"{runtime.Storage.ProviderName} storage is unreachable.", exception);
        }
    }
}
