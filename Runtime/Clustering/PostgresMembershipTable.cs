using Npgsql;

namespace Orchestration.Runtime.Clustering;

/// <summary>
/// The membership table and partition leases in PostgreSQL (schema: migration 6 of <c>PostgresGrainStorage</c>).
/// Runs on a data source of its own, so renewals never queue behind an activation storm on the read pool: a renewal
/// that waits is a lease that lapses.
/// </summary>
internal sealed class PostgresMembershipTable : IMembershipTable, IAsyncDisposable
{
    /// <summary>The NOTIFY channel that hints every process that partition owners changed.</summary>
    public const string PartitionChannel = "orch_partitions";

    private const string BumpVersion = "UPDATE orch_membership_version SET version = version + 1, changed_at = now()";

    private readonly NpgsqlDataSource _dataSource;

    public PostgresMembershipTable(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        builder.ConnectionStringBuilder.MaxPoolSize = 2;
        builder.ConnectionStringBuilder.MaxAutoPrepare = 16;
        // A lease round must not wait longer than a lease lasts: a statement stuck behind a lock (a take-over waiting for
        // the commits in flight) fails after a second and the next round tries again.
        builder.ConnectionStringBuilder.CommandTimeout = 2;
        // Added to the operator's options (a search_path, say), which every other connection of the silo keeps too.
        builder.ConnectionStringBuilder.Options = $"{builder.ConnectionStringBuilder.Options} -c lock_timeout=1000".TrimStart();
        _dataSource = builder.Build();
    }

    public async Task<MembershipEntry> JoinAsync(string siloId, string address, CancellationToken cancellationToken)
    {
        // Every start adds a generation's row, and every tick of every silo reads the table: rows dead for a day go as a
        // new one comes (a row gone reads as dead to its generation's renewals and heartbeats, as a dead one does).
        await using (var forget = _dataSource.CreateCommand("DELETE FROM orch_silos WHERE status = 'dead' AND heartbeat_at < now() - interval '1 day'"))
        {
            await forget.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var command = _dataSource.CreateCommand($"""
            WITH v AS ({BumpVersion} RETURNING version)
            INSERT INTO orch_silos (silo_id, generation, address, status)
            SELECT $1, nextval('orch_silo_generation'), $2, 'joining' FROM v
            RETURNING generation, started_at, heartbeat_at
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = siloId });
        command.Parameters.Add(new NpgsqlParameter { Value = address });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new MembershipEntry(siloId, reader.GetInt64(0), address, SiloMembershipStatus.Joining,
            reader.GetFieldValue<DateTimeOffset>(1), reader.GetFieldValue<DateTimeOffset>(2));
    }

    public async Task<bool> TryUpdateStatusAsync(MembershipEntry silo, SiloMembershipStatus status, long expectedVersion, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"""
            WITH v AS ({BumpVersion} WHERE version = $3 RETURNING version)
            UPDATE orch_silos s SET status = $4 FROM v
            WHERE s.silo_id = $1 AND s.generation = $2 AND s.status <> 'dead'
            RETURNING 1
            """);
        AddSilo(command, silo);
        command.Parameters.Add(new NpgsqlParameter { Value = expectedVersion });
        command.Parameters.Add(new NpgsqlParameter { Value = StatusName(status) });
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    public async Task<bool> TryDeclareDeadAsync(MembershipEntry suspect, TimeSpan overdueAfter, long expectedVersion, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"""
            WITH v AS ({BumpVersion} WHERE version = $3 AND EXISTS (
                    SELECT 1 FROM orch_silos WHERE silo_id = $1 AND generation = $2 AND status <> 'dead' AND heartbeat_at < now() - $4)
                RETURNING version)
            UPDATE orch_silos s SET status = 'dead' FROM v
            WHERE s.silo_id = $1 AND s.generation = $2
            RETURNING 1
            """);
        AddSilo(command, suspect);
        command.Parameters.Add(new NpgsqlParameter { Value = expectedVersion });
        command.Parameters.Add(new NpgsqlParameter { Value = overdueAfter });
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    public async Task<SiloMembershipStatus> HeartbeatAsync(MembershipEntry silo, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            "UPDATE orch_silos SET heartbeat_at = now() WHERE silo_id = $1 AND generation = $2 AND status <> 'dead' RETURNING status");
        AddSilo(command, silo);
        return await command.ExecuteScalarAsync(cancellationToken) is string status ? ParseStatus(status) : SiloMembershipStatus.Dead;
    }

    public async Task<MembershipSnapshot> ReadAsync(CancellationToken cancellationToken)
    {
        await using var batch = _dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT version, now() FROM orch_membership_version"));
        // The dead stay listed for an hour, so operators see who left and when.
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            SELECT silo_id, generation, address, status, started_at, heartbeat_at FROM orch_silos
            WHERE status <> 'dead' OR heartbeat_at > now() - interval '1 hour' ORDER BY silo_id, generation
            """));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            "SELECT partition, owner_silo, owner_generation, epoch, expires_at FROM orch_partitions ORDER BY partition"));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var version = reader.GetInt64(0);
        var now = reader.GetFieldValue<DateTimeOffset>(1);
        await reader.NextResultAsync(cancellationToken);
        var silos = new List<MembershipEntry>();
        while (await reader.ReadAsync(cancellationToken))
        {
            silos.Add(new MembershipEntry(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), ParseStatus(reader.GetString(3)),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetFieldValue<DateTimeOffset>(5)));
        }

        await reader.NextResultAsync(cancellationToken);
        var partitions = new List<PartitionOwner>(ClusterPartitions.Count);
        while (await reader.ReadAsync(cancellationToken))
        {
            partitions.Add(new PartitionOwner(
                reader.GetInt32(0),
                reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetInt64(2),
                reader.GetInt64(3),
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4)));
        }

        return new MembershipSnapshot(version, now, silos, partitions);
    }

    public async Task<IReadOnlyList<PartitionEpoch>> RenewAsync(
        MembershipEntry silo, IReadOnlyList<PartitionEpoch> held, TimeSpan duration, CancellationToken cancellationToken)
    {
        if (held.Count == 0)
        {
            return [];
        }

        await using var command = _dataSource.CreateCommand("""
            UPDATE orch_partitions p SET expires_at = now() + $3
            FROM unnest($4::int[], $5::bigint[]) AS h(partition, epoch)
            WHERE p.partition = h.partition AND p.epoch = h.epoch AND p.owner_silo = $1 AND p.owner_generation = $2
              AND EXISTS (SELECT 1 FROM orch_silos s WHERE s.silo_id = $1 AND s.generation = $2 AND s.status <> 'dead')
            RETURNING p.partition, p.epoch
            """);
        AddSilo(command, silo);
        command.Parameters.Add(new NpgsqlParameter { Value = duration });
        command.Parameters.Add(new NpgsqlParameter { Value = held.Select(lease => lease.Partition).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = held.Select(lease => lease.Epoch).ToArray() });
        return await ReadEpochsAsync(command, cancellationToken);
    }

    public async Task<IReadOnlyList<PartitionEpoch>> AcquireAsync(
        MembershipEntry silo, IReadOnlyList<int> wanted, TimeSpan duration, CancellationToken cancellationToken)
    {
        if (wanted.Count == 0)
        {
            return [];
        }

        await using var command = _dataSource.CreateCommand("SELECT acquired, epoch FROM orch_acquire_partitions($1, $2, $3, $4)");
        AddSilo(command, silo);
        command.Parameters.Add(new NpgsqlParameter { Value = wanted.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = duration });
        return await ReadEpochsAsync(command, cancellationToken);
    }

    public async Task ReleaseAsync(MembershipEntry silo, IReadOnlyList<int> partitions, CancellationToken cancellationToken)
    {
        if (partitions.Count == 0)
        {
            return;
        }

        await using var command = _dataSource.CreateCommand($"""
            WITH released AS (
                UPDATE orch_partitions SET owner_silo = NULL, owner_generation = NULL, expires_at = NULL
                WHERE partition = ANY ($3) AND owner_silo = $1 AND owner_generation = $2 RETURNING 1)
            SELECT pg_notify('{PartitionChannel}', '') FROM (SELECT count(*) FROM released) AS done
            """);
        AddSilo(command, silo);
        command.Parameters.Add(new NpgsqlParameter { Value = partitions.ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    internal static string StatusName(SiloMembershipStatus status) => status switch
    {
        SiloMembershipStatus.Joining => "joining",
        SiloMembershipStatus.Active => "active",
        SiloMembershipStatus.ShuttingDown => "shutting_down",
        _ => "dead",
    };

    private static SiloMembershipStatus ParseStatus(string status) => status switch
    {
        "joining" => SiloMembershipStatus.Joining,
        "active" => SiloMembershipStatus.Active,
        "shutting_down" => SiloMembershipStatus.ShuttingDown,
        _ => SiloMembershipStatus.Dead,
    };

    private static void AddSilo(NpgsqlCommand command, MembershipEntry silo)
    {
        command.Parameters.Add(new NpgsqlParameter { Value = silo.SiloId });
        command.Parameters.Add(new NpgsqlParameter { Value = silo.Generation });
    }

    private static async Task<IReadOnlyList<PartitionEpoch>> ReadEpochsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var epochs = new List<PartitionEpoch>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            epochs.Add(new PartitionEpoch(reader.GetInt32(0), reader.GetInt64(1)));
        }

        return epochs;
    }
}
