using Orchestration.Runtime;

namespace Orchestration.Silo.Extensions;

/// <summary>Registers the Orchestration silo: every grain of this assembly, with storage chosen by configuration.</summary>
public static class SiloHostingExtensions
{
    /// <summary>
    /// Adds the silo. <c>Storage:Provider</c> picks <c>Sqlite</c> (default; file <c>Storage:SqlitePath</c>,
    /// <c>.data/orchestration.db</c> unless set), <c>Postgres</c> (<c>ConnectionStrings:postgres</c>) or <c>Memory</c>;
    /// <c>Silo</c> binds <see cref="SiloOptions"/>.
    /// </summary>
    public static IHostApplicationBuilder AddSiloServices(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        builder.Services.AddSilo(silo => silo
            .AddGrains(typeof(SiloHostingExtensions).Assembly)
            .UseStorage(configuration));
        builder.Services.AddOptions<SiloOptions>().Bind(configuration.GetSection("Silo"));
        return builder;
    }
}
