using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Runtime.Activations;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Streams;

namespace Orchestration.Runtime;

/// <summary>Registers a silo in a host.</summary>
public static class SiloServiceCollectionExtensions
{
    /// <summary>
    /// Adds a silo: the grain runtime, its storage, <see cref="IGrainFactory"/>, <see cref="IStreamProvider"/>,
    /// <see cref="IStreamLog"/>, <see cref="IProjectionStore"/>, a hosted service that starts and stops it, and a
    /// <c>storage</c> health check.
    /// </summary>
    public static IServiceCollection AddSilo(this IServiceCollection services, Action<SiloBuilder> configure)
    {
        var builder = new SiloBuilder();
        configure(builder);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.TryAdd(ServiceDescriptor.Singleton(typeof(ILogger<>), typeof(Logger<>)));
        services.TryAddSingleton(provider => builder.CreateStorage(provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILoggerFactory>()));
        // The options pattern: hosts may also bind SiloOptions (services.AddOptions<SiloOptions>().Bind(...)); every
        // rule is checked at start-up and all broken ones are reported together.
        services.AddOptions<SiloOptions>().Configure(builder.ApplyConfiguration).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SiloOptions>, SiloOptionsValidator>());
        services.AddSingleton(provider => provider.GetRequiredService<IOptions<SiloOptions>>().Value);
        services.AddSingleton(new GrainTypeRegistry(builder.Assemblies));
        if (builder.Cluster is { } cluster)
        {
            services.AddSingleton(cluster);
            services.AddSingleton(builder.ClusterOptions);
        }

        services.AddSingleton(provider => new RuntimeInstruments(provider.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddSingleton<SiloRuntime>();
        services.AddSingleton<IGrainFactory>(provider => provider.GetRequiredService<SiloRuntime>().GrainFactory);
        services.AddSingleton<IStreamLog>(provider => provider.GetRequiredService<SiloRuntime>().StreamLog);
        services.AddSingleton<IProjectionStore>(provider => new ProjectionStore(provider.GetRequiredService<IGrainStorage>()));
        services.AddSingleton<IStreamProvider>(provider => new StreamProvider(provider.GetRequiredService<SiloRuntime>()));
        services.AddHostedService<SiloHostedService>();
        services.AddHealthChecks().AddCheck<StorageHealthCheck>("storage", tags: ["ready"]);
        return services;
    }
}
