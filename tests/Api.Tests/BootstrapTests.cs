using System.Net;
using Orchestration.Testing;

namespace Orchestration.Api.Tests;

public abstract class BootstrapTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("orch-bootstrap-").FullName;

    /// <summary>A directory removed after the test.</summary>
    protected string Scratch => _directory;

    private protected abstract Task<IReadOnlyDictionary<string, string?>> StorageAsync();

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task FirstStart_NoKeyConfigured_GeneratesPlatformKeyInOwnerOnlyFileOnce()
    {
        var storage = await StorageAsync();
        var keyFile = Path.Combine(_directory, "keys", "bootstrap-key");
        var settings = new Dictionary<string, string?>(storage) { ["Orchestration:BootstrapKeyFile"] = keyFile };

        string key;
        await using (var first = new ApiFactory(settings))
        {
            using var anonymous = first.CreateClient();
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/alive")).StatusCode);
            key = (await File.ReadAllTextAsync(keyFile)).Trim();
            Assert.StartsWith("orch_bootstrap_", key);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
            }

            Assert.Equal(HttpStatusCode.OK, (await Send(first, key, "/api/v1/orgs")).StatusCode);
        }

        File.Delete(keyFile);
        await using var second = new ApiFactory(settings);
        Assert.Equal(HttpStatusCode.OK, (await Send(second, key, "/api/v1/orgs")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(second, key, "/api/v1/keys")).StatusCode);
        Assert.False(File.Exists(keyFile), "a later start must not generate or write another key");
    }

    [Fact]
    public async Task FirstStart_KeyConfigured_UsesItAndLaterStartsKeepTheFirst()
    {
        var storage = await StorageAsync();
        var settings = new Dictionary<string, string?>(storage) { ["Orchestration:BootstrapKey"] = "first-key", ["Orchestration:BootstrapKeyFile"] = Path.Combine(_directory, "unused") };
        await using (var first = new ApiFactory(settings))
        {
            Assert.Equal(HttpStatusCode.OK, (await Send(first, "first-key", "/api/v1/orgs")).StatusCode);
        }

        settings["Orchestration:BootstrapKey"] = "second-key";
        await using var second = new ApiFactory(settings);

        Assert.Equal(HttpStatusCode.OK, (await Send(second, "first-key", "/api/v1/orgs")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(second, "second-key", "/api/v1/orgs")).StatusCode);
        Assert.False(File.Exists(Path.Combine(_directory, "unused")));
    }

    [Fact]
    public async Task FirstStart_KeyConfiguredInTheFormOfAnotherKeysId_RefusesToStartSayingWhy()
    {
        var storage = await StorageAsync();
        var settings = new Dictionary<string, string?>(storage) { ["Orchestration:BootstrapKey"] = "orch_0123abcd_secret" };
        await using var factory = new ApiFactory(settings);

        var refused = Assert.ThrowsAny<Exception>(() => factory.CreateClient());

        Assert.Contains("ORCHESTRATION_BOOTSTRAP_KEY", refused.GetBaseException().Message, StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> Send(ApiFactory factory, string key, string path)
    {
        using var client = factory.CreateClient(key);
        return await client.GetAsync(path);
    }
}

public sealed class SqliteBootstrapTests : BootstrapTests
{
    private protected override Task<IReadOnlyDictionary<string, string?>> StorageAsync() =>
        Task.FromResult<IReadOnlyDictionary<string, string?>>(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Sqlite",
            ["Storage:SqlitePath"] = Path.Combine(Scratch, "orchestration.db"),
        });
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresBootstrapTests(PostgresServerFixture postgres) : BootstrapTests
{
    private protected override async Task<IReadOnlyDictionary<string, string?>> StorageAsync() =>
        new Dictionary<string, string?> { ["Storage:Provider"] = "Postgres", ["ConnectionStrings:postgres"] = await postgres.Server.CreateDatabaseAsync() };
}
