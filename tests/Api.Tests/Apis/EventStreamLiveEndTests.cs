using System.Buffers.Binary;
using System.Text.Json;
using Npgsql;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Apis;

/// <summary>
/// A stream with neither <c>Last-Event-ID</c> nor <c>?after=</c> starts at the live end of the log (API.md: new events
/// only), also when this process has not yet heard of the newest commits: in cluster mode other processes commit, and
/// their events reach this one's log a moment later. The test commits one event behind the process's back (no
/// notification; polling slowed to minutes), as another process whose notification is still on its way would.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class EventStreamLiveEndTests(PostgresServerFixture postgres) : ApiTestBase
{
    private protected override Task<ApiStorage> CreateStorageAsync() => ApiStorage.Postgres.CreateAsync(postgres);

    private protected override ApiFactory CreateFactory(ApiStorage storage) =>
        ApiFactory.Create(storage.Settings, new Dictionary<string, string?> { ["Silo:EventPollInterval"] = "00:05:00" });

    [Fact]
    public async Task Stream_NoStart_AnEventCommittedElsewhereAndNotYetHeardHere_IsNotSent()
    {
        await CreateTaskAsync(Platform, "t-old");
        var unheard = await CommitACopyOfTheNewestEventUnannouncedAsync();
        await using var stream = await SseClient.ConnectAsync(Platform, "/api/v1/events/stream?types=task.*");

        await CreateTaskAsync(Platform, "t-new");

        var frame = await stream.NextEventAsync();
        using var data = JsonDocument.Parse(frame!.Data!);
        Assert.Equal("tasks/t-new", data.RootElement.GetProperty("subject").GetString());
        Assert.True(long.Parse(frame.Id!, System.Globalization.CultureInfo.InvariantCulture) > unheard);
    }

    /// <summary>
    /// Appends a copy of the newest event as the next sequence, under the lock commits append under ("orchevts", as
    /// <c>orch_commit</c> takes it) but without their NOTIFY; returns its sequence.
    /// </summary>
    private async Task<long> CommitACopyOfTheNewestEventUnannouncedAsync()
    {
        await using var connection = new NpgsqlConnection(Storage.Settings["ConnectionStrings:postgres"]);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var appendLock = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction))
        {
            appendLock.Parameters.Add(new NpgsqlParameter { Value = BinaryPrimitives.ReadInt64BigEndian("orchevts"u8) });
            await appendLock.ExecuteNonQueryAsync();
        }

        await using var command = new NpgsqlCommand(
            """
            INSERT INTO orch_events (sequence, stream_namespace, stream_key, tenant, event_type, occurred_at, data)
            SELECT sequence + 1, stream_namespace, stream_key, tenant, event_type, occurred_at, data
            FROM orch_events ORDER BY sequence DESC LIMIT 1
            RETURNING sequence
            """, connection, transaction);
        var sequence = (long)(await command.ExecuteScalarAsync())!;
        await transaction.CommitAsync();
        return sequence;
    }
}
