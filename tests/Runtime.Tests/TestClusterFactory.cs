using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests;

/// <summary>Builds test clusters with the test grains, a probe and the given storage, clock and logging.</summary>
internal static class TestClusterFactory
{
    public static Task<TestCluster> StartAsync(
        GrainProbe probe,
        Action<SiloBuilder>? storage = null,
        TimeProvider? timeProvider = null,
        Action<SiloOptions>? options = null,
        int siloCount = 1,
        ActivationCensus? census = null,
        ILoggerFactory? loggerFactory = null) =>
        TestCluster.StartAsync(
            builder =>
            {
                builder.AddGrains(typeof(TestClusterFactory).Assembly);
                (storage ?? (b => b.UseMemoryStorage()))(builder);
                if (options is not null)
                {
                    builder.Configure(options);
                }
            },
            siloCount,
            services =>
            {
                services.AddSingleton(probe);
                services.AddSingleton(census ?? new ActivationCensus());
                if (timeProvider is not null)
                {
                    services.AddSingleton(timeProvider);
                }

                if (loggerFactory is not null)
                {
                    services.AddSingleton(loggerFactory);
                }
            });
}
