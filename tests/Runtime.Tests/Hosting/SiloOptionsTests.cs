using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Orchestration.Runtime.Tests.Hosting;

public sealed class SiloOptionsTests
{
    [Fact]
    public void AddSilo_InvalidOptions_FailValidationWithEveryBrokenRule()
    {
        using var services = CreateSut(options =>
        {
            options.ResponseTimeout = TimeSpan.Zero;
            options.MaxWriteBatchSize = 0;
        });

        var exception = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<SiloOptions>());

        Assert.Contains("ResponseTimeout must be positive.", exception.Failures);
        Assert.Contains("MaxWriteBatchSize must be at least 1.", exception.Failures);
    }

    [Fact]
    public void AddSilo_OptionsBoundLater_AreAppliedAfterTheBuildersOwn()
    {
        using var services = CreateSut(
            options => options.ResponseTimeout = TimeSpan.FromSeconds(7),
            collection => collection.Configure<SiloOptions>(options => options.SweepInterval = TimeSpan.FromSeconds(3)));

        var options = services.GetRequiredService<SiloOptions>();

        Assert.Equal(TimeSpan.FromSeconds(7), options.ResponseTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), options.SweepInterval);
    }

    private static ServiceProvider CreateSut(Action<SiloOptions> configure, Action<IServiceCollection>? more = null)
    {
        var services = new ServiceCollection();
        services.AddSilo(builder => builder.UseMemoryStorage().Configure(configure));
        more?.Invoke(services);
        return services.BuildServiceProvider();
    }
}
