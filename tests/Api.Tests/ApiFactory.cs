using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Orchestration.Api.Tests;

/// <summary>The real Api (embedded silo included) in the ASP.NET Core test server, with settings given per test.</summary>
public sealed class ApiFactory(IReadOnlyDictionary<string, string?> settings, TimeProvider? timeProvider = null) : WebApplicationFactory<Program>
{
    /// <summary>The platform key the API test hosts bootstrap with.</summary>
    public const string PlatformKey = "test-platform-key";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }

        if (timeProvider is not null)
        {
            builder.ConfigureServices(services => services.AddSingleton(timeProvider));
        }
    }

    public static ApiFactory WithSqlite(string path) => Create(new Dictionary<string, string?>
    {
        ["Storage:Provider"] = "Sqlite",
        ["Storage:SqlitePath"] = path,
    });

    public static ApiFactory WithPostgres(string connectionString) => Create(new Dictionary<string, string?>
    {
        ["Storage:Provider"] = "Postgres",
        ["ConnectionStrings:postgres"] = connectionString,
    });

    /// <summary>A client sending the platform key.</summary>
    public HttpClient CreatePlatformClient()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", PlatformKey);
        return client;
    }

    /// <summary>A host on <paramref name="storage"/> with the test platform key and <paramref name="extra"/> settings.</summary>
    public static ApiFactory Create(IReadOnlyDictionary<string, string?> storage, IReadOnlyDictionary<string, string?>? extra = null, TimeProvider? timeProvider = null)
    {
        var all = new Dictionary<string, string?>(storage) { ["Orchestration:BootstrapKey"] = PlatformKey };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return new ApiFactory(all, timeProvider);
    }
}
