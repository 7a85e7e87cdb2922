using Orchestration.Runtime.Testing;
using System.Text.Json;
using Orchestration.Runtime.Persistence;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Persistence;

/// <summary>
/// A child process writes through the runtime and reports every acknowledged write; it is then killed with SIGKILL.
/// Every acknowledged write, state and event, must be in storage afterwards.
/// </summary>
public abstract class CrashDurabilityTests : IAsyncLifetime
{
    private const int AcknowledgementsBeforeKill = 3000;

    private protected abstract string Provider { get; }

    private protected abstract string Target { get; }

    private protected abstract IGrainStorage OpenStorage();

    public abstract Task InitializeAsync();

    public abstract Task DisposeAsync();

    [Fact]
    public async Task KilledProcess_AfterAcknowledgedWrites_LosesNoneOfThem()
    {
        var acknowledged = new Dictionary<string, long>();
        void Record(string line)
        {
            var parts = line.Split(' ');
            Assert.Equal("ack", parts[0]);
            acknowledged[parts[1]] = long.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture);
        }

        await using (var worker = WorkerProcess.Start("write", Provider, Target))
        {
            Assert.Equal("ready", await worker.ReadLineAsync());
            for (var i = 0; i < AcknowledgementsBeforeKill; i++)
            {
                Record(await worker.ReadLineAsync());
            }

            await worker.KillAsync();

            // The newest acknowledgements, written just before the kill, are the ones most at risk.
            foreach (var line in await worker.ReadRemainingLinesAsync())
            {
                Record(line);
            }
        }

        Assert.True(acknowledged.Count == 32, $"all 32 writers acknowledged writes ({acknowledged.Count})");
        await using var storage = OpenStorage();
        await storage.InitializeAsync(CancellationToken.None);
        var events = await ReadAllEventsAsync(storage);
        foreach (var (key, value) in acknowledged)
        {
            var state = await storage.ReadStateAsync(new GrainStateKey("ledger", key, "ledger"), CancellationToken.None);
            Assert.NotNull(state);
            var stored = JsonDocument.Parse(state.Data).RootElement.GetProperty("value").GetInt64();
            Assert.True(stored >= value, $"{key}: acknowledged {value}, stored {stored}");
            Assert.Contains((key, value), events);
        }
    }

    private static async Task<HashSet<(string Key, long Value)>> ReadAllEventsAsync(IGrainStorage storage)
    {
        var seen = new HashSet<(string, long)>();
        long after = 0;
        while (true)
        {
            var page = await storage.ReadEventsAsync(after, 1000, CancellationToken.None);
            foreach (var streamEvent in page)
            {
                var data = JsonDocument.Parse(streamEvent.Data).RootElement;
                seen.Add((data.GetProperty("key").GetString()!, data.GetProperty("value").GetInt64()));
                after = streamEvent.Sequence;
            }

            if (page.Count == 0)
            {
                return seen;
            }
        }
    }
}

public sealed class SqliteCrashDurabilityTests : CrashDurabilityTests
{
    private readonly StorageChoice.Sqlite _file = new();

    private protected override string Provider => "sqlite";

    private protected override string Target => _file.Path;

    private protected override IGrainStorage OpenStorage() => new SqliteGrainStorage(_file.Path, TimeProvider.System);

    public override Task InitializeAsync() => Task.CompletedTask;

    public override async Task DisposeAsync() => await _file.DisposeAsync();
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresCrashDurabilityTests(PostgresServerFixture postgres) : CrashDurabilityTests
{
    private string _connectionString = null!;

    private protected override string Provider => "postgres";

    private protected override string Target => _connectionString;

    private protected override IGrainStorage OpenStorage() => new PostgresGrainStorage(_connectionString);

    public override async Task InitializeAsync() => _connectionString = await postgres.Server.CreateDatabaseAsync();

    public override Task DisposeAsync() => Task.CompletedTask;
}
