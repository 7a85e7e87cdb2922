using Orchestration.Runtime;
using Orchestration.Runtime.Clustering;
using Orchestration.Silo.Grains;

namespace Orchestration.Silo.Extensions;

/// <summary>Registers the Orchestration silo: every grain of this assembly, with storage chosen by configuration.</summary>
public static class SiloHostingExtensions
{
    /// <summary>
    /// Adds the silo. <c>Storage:Provider</c> picks <c>Sqlite</c> (default; file <c>Storage:SqlitePath</c>,
    /// <c>.data/orchestration.db</c> unless set), <c>Postgres</c> (<c>ConnectionStrings:postgres</c>) or <c>Memory</c>;
    /// <c>Silo</c> binds <see cref="SiloOptions"/> and <c>TaskRetry</c> the retry back-off of failed tasks. With
    /// <c>Orchestration:Mode</c> = <c>Cluster</c> the process joins the cluster on <c>ConnectionStrings:postgres</c>
    /// (settings in section <c>Cluster</c>): as a silo serving its share of partitions, or
    /// (<paramref name="servesPartitions"/> false, the Api) as a client that sends every call to the owner.
    /// </summary>
    public static IHostApplicationBuilder AddSiloServices(this IHostApplicationBuilder builder, bool servesPartitions = true)
    {
        var configuration = builder.Configuration;
        var mode = configuration["Orchestration:Mode"] ?? "Embedded";
        var cluster = mode.Equals("Cluster", StringComparison.OrdinalIgnoreCase);
        if (!cluster && !mode.Equals("Embedded", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Orchestration:Mode '{mode}' is unknown; use Embedded or Cluster.");
        }

        builder.Services.AddSilo(silo =>
        {
            silo.AddGrains(typeof(SiloHostingExtensions).Assembly);
            if (cluster)
            {
                var connectionString = configuration.GetConnectionString("postgres")
                    ?? throw new InvalidOperationException("Orchestration:Mode is Cluster, which needs PostgreSQL: set ConnectionStrings:postgres.");
                silo.UseCluster(connectionString, servesPartitions, configuration.GetSection(ClusterOptions.Section).Get<ClusterOptions>());
            }
            else
            {
                silo.UseStorage(configuration);
            }
        });
        builder.Services.AddOptions<SiloOptions>().Bind(configuration.GetSection("Silo"));
        builder.Services.AddOptions<TaskRetryOptions>()
            .Bind(configuration.GetSection(TaskRetryOptions.Section))
            .Validate(options => options.BaseDelay > TimeSpan.Zero && options.BaseDelay <= TaskRetryPolicy.MaxDelay,
                $"TaskRetry:BaseDelay must be more than 0 and at most {TaskRetryPolicy.MaxDelay}.")
            .ValidateOnStart();
        return builder;
    }
}
