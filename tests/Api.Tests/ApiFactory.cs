using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orchestration.Testing;

namespace Orchestration.Api.Tests;

/// <summary>
/// The real Api (embedded silo included) behind Kestrel on a free loopback port, with settings given per test: clients
/// speak HTTP over sockets, so the server's own rules (no body on a 204, request limits, connection handling) apply as
/// in production, which the in-memory test server does not enforce.
/// </summary>
public sealed class ApiFactory : WebApplicationFactory<Program>
{
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly TimeProvider? _timeProvider;

    public ApiFactory(IReadOnlyDictionary<string, string?> settings, TimeProvider? timeProvider = null)
    {
        _settings = settings;
        _timeProvider = timeProvider;
        UseKestrel(0);
    }

    /// <summary>Replaces services after the Api registered its own (a fault to inject, say).</summary>
    public Action<IServiceCollection>? OverrideServices { get; init; }

    /// <summary>Everything the host logged as an error (or worse): a request that broke on the server shows here.</summary>
    public CapturedLog Errors { get; } = new(LogLevel.Error, andAbove: true);

    /// <summary>The platform key the API test hosts bootstrap with.</summary>
    public const string PlatformKey = "test-platform-key";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureLogging(logging => logging.AddProvider(Errors));
        if (OverrideServices is { } overrideServices)
        {
            builder.ConfigureTestServices(overrideServices);
        }

        if (_timeProvider is { } timeProvider)
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
    public HttpClient CreatePlatformClient() => CreateClient(PlatformKey);

    /// <summary>A client sending <paramref name="key"/> as its bearer token.</summary>
    public HttpClient CreateClient(string key)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>A host on <paramref name="storage"/> with the test platform key and <paramref name="extra"/> settings.</summary>
    public static ApiFactory Create(
        IReadOnlyDictionary<string, string?> storage,
        IReadOnlyDictionary<string, string?>? extra = null,
        TimeProvider? timeProvider = null,
        Action<IServiceCollection>? overrideServices = null)
    {
        var all = new Dictionary<string, string?>(storage) { ["Orchestration:BootstrapKey"] = PlatformKey };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return new ApiFactory(all, timeProvider) { OverrideServices = overrideServices };
    }
}
