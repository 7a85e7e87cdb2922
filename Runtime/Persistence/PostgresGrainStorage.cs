using Npgsql;
using NpgsqlTypes;
using Orchestration.Runtime.Streams;

namespace Orchestration.Runtime.Persistence;

/// <summary>
/// Storage in PostgreSQL: JSONB state with a version column, the event log, reminders and stream cursors.
/// A batch is one transaction: one set-based statement checks every row's version and writes the survivors, then the
/// events of the survivors are appended under a transaction-scoped advisory lock, which makes event sequences follow
/// commit order across processes (a reader that saw sequence N never later finds a smaller one appear).
/// </summary>
internal sealed class PostgresGrainStorage : IGrainStorage
{
    /// <summary>The NOTIFY channel that hints other processes about new events.</summary>
    public const string EventChannel = "orch_events";

    private const long EventAppendLockKey = 0x6F72_6368_6576_7473; // "orchevts"
    private const long MigrationLockKey = 0x6F72_6368_6D69_6772; // "orchmigr"

    private static readonly string[] s_migrations =
    [
        """
        CREATE TABLE orch_grain_state (
            grain_type text NOT NULL, grain_key text NOT NULL, state_name text NOT NULL,
            data jsonb NOT NULL, version bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (grain_type, grain_key, state_name));
        CREATE TABLE orch_events (
            sequence bigint PRIMARY KEY, stream_namespace text NOT NULL, stream_key text NOT NULL,
            event_type text NOT NULL, occurred_at timestamptz NOT NULL, data jsonb NOT NULL);
        CREATE TABLE orch_reminders (
            grain_type text NOT NULL, grain_key text NOT NULL, reminder_name text NOT NULL,
            first_due_at timestamptz NOT NULL, period interval NOT NULL,
            PRIMARY KEY (grain_type, grain_key, reminder_name));
        CREATE TABLE orch_stream_cursors (subscriber text PRIMARY KEY, sequence bigint NOT NULL);
        """,
    ];

    private const string WriteStatesSql = """
        WITH input AS (
            SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bigint[], $7::bool[])
                AS i(ord, grain_type, grain_key, state_name, data, expected, is_delete)),
        updated AS (
            UPDATE orch_grain_state s SET data = i.data, version = s.version + 1, updated_at = now()
            FROM input i
            WHERE NOT i.is_delete AND i.expected > 0 AND s.version = i.expected
              AND s.grain_type = i.grain_type AND s.grain_key = i.grain_key AND s.state_name = i.state_name
            RETURNING i.ord, s.version),
        inserted AS (
            INSERT INTO orch_grain_state AS s (grain_type, grain_key, state_name, data, version)
            SELECT grain_type, grain_key, state_name, data, 1 FROM input WHERE NOT is_delete AND expected = 0
            ON CONFLICT DO NOTHING
            RETURNING s.grain_type, s.grain_key, s.state_name, s.version),
        deleted AS (
            DELETE FROM orch_grain_state s USING input i
            WHERE i.is_delete AND s.version = i.expected
              AND s.grain_type = i.grain_type AND s.grain_key = i.grain_key AND s.state_name = i.state_name
            RETURNING i.ord)
        SELECT ord, version FROM updated
        UNION ALL
        SELECT i.ord, n.version FROM inserted n JOIN input i
            ON NOT i.is_delete AND i.expected = 0
           AND i.grain_type = n.grain_type AND i.grain_key = n.grain_key AND i.state_name = n.state_name
        UNION ALL
        SELECT ord, 0 FROM deleted
        """;

    private const string AppendEventsSql = """
        INSERT INTO orch_events (sequence, stream_namespace, stream_key, event_type, occurred_at, data)
        SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[])
        """;

    private const string UpsertRemindersSql = """
        INSERT INTO orch_reminders (grain_type, grain_key, reminder_name, first_due_at, period)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::interval[])
        ON CONFLICT (grain_type, grain_key, reminder_name) DO UPDATE SET first_due_at = excluded.first_due_at, period = excluded.period
        """;

    private const string DeleteRemindersSql = """
        DELETE FROM orch_reminders r USING unnest($1::text[], $2::text[], $3::text[]) AS d(grain_type, grain_key, reminder_name)
        WHERE r.grain_type = d.grain_type AND r.grain_key = d.grain_key AND r.reminder_name = d.reminder_name
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _connectionString;

    public PostgresGrainStorage(string connectionString)
    {
        _connectionString = connectionString;
        _dataSource = NpgsqlDataSource.Create(connectionString);
    }

    public string ProviderName => "Postgres";

    /// <summary>Two: one batch commits while the next one writes its rows.</summary>
    public int MaxConcurrentCommits => 2;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({MigrationLockKey})", cancellationToken);
        await ExecuteAsync(connection, "CREATE TABLE IF NOT EXISTS orch_schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())", cancellationToken);
        await using var current = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM orch_schema_migrations", connection);
        var applied = (int)(await current.ExecuteScalarAsync(cancellationToken))!;
        for (var version = applied + 1; version <= s_migrations.Length; version++)
        {
            await ExecuteAsync(connection, s_migrations[version - 1], cancellationToken);
            await using var record = new NpgsqlCommand("INSERT INTO orch_schema_migrations (version) VALUES ($1)", connection);
            record.Parameters.Add(new NpgsqlParameter { Value = version });
            await record.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<GrainStateRecord?> ReadStateAsync(GrainStateKey key, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            "SELECT data::text, version FROM orch_grain_state WHERE grain_type = $1 AND grain_key = $2 AND state_name = $3");
        command.Parameters.Add(new NpgsqlParameter { Value = key.GrainType });
        command.Parameters.Add(new NpgsqlParameter { Value = key.GrainKey });
        command.Parameters.Add(new NpgsqlParameter { Value = key.StateName });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new GrainStateRecord(reader.GetString(0), reader.GetInt64(1)) : null;
    }

    public async Task CommitAsync(IReadOnlyList<StorageWrite> writes, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await WriteStatesAsync(connection, writes, cancellationToken);

        var survivors = writes.Where(write => !write.Conflict).ToList();
        var eventCount = survivors.Sum(write => write.Events.Count);
        await using var batch = new NpgsqlBatch(connection);
        if (eventCount > 0)
        {
            var nextSequence = await LockEventLogAsync(connection, cancellationToken);
            batch.BatchCommands.Add(AppendEvents(survivors, eventCount, nextSequence));
            batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT pg_notify('{EventChannel}', '{nextSequence + eventCount - 1}')"));
        }

        AddReminderChanges(batch, survivors.SelectMany(write => write.Reminders).ToList());
        if (batch.BatchCommands.Count > 0)
        {
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    private static async Task WriteStatesAsync(NpgsqlConnection connection, IReadOnlyList<StorageWrite> writes, CancellationToken cancellationToken)
    {
        var stateWrites = new List<(int Ordinal, StorageWrite Write)>();
        for (var i = 0; i < writes.Count; i++)
        {
            if (writes[i].StateKey is null)
            {
                continue;
            }

            if (writes[i].IsDelete && writes[i].ExpectedVersion == 0)
            {
                writes[i].NewVersion = 0; // nothing was stored, so there is nothing to delete
                continue;
            }

            stateWrites.Add((i, writes[i]));
        }

        if (stateWrites.Count == 0)
        {
            return;
        }

        await using var command = new NpgsqlCommand(WriteStatesSql, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = stateWrites.Select(entry => entry.Ordinal).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = stateWrites.Select(entry => entry.Write.StateKey!.Value.GrainType).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = stateWrites.Select(entry => entry.Write.StateKey!.Value.GrainKey).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = stateWrites.Select(entry => entry.Write.StateKey!.Value.StateName).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = stateWrites.Select(entry => entry.Write.Data).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = stateWrites.Select(entry => entry.Write.ExpectedVersion).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = stateWrites.Select(entry => entry.Write.IsDelete).ToArray() });

        var succeeded = new HashSet<int>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var ordinal = reader.GetInt32(0);
                writes[ordinal].NewVersion = reader.GetInt64(1);
                succeeded.Add(ordinal);
            }
        }

        foreach (var (ordinal, write) in stateWrites)
        {
            write.Conflict = !succeeded.Contains(ordinal);
        }
    }

    /// <summary>Serializes event appends until this transaction ends and returns the next free sequence.</summary>
    private static async Task<long> LockEventLogAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand($"SELECT pg_advisory_xact_lock({EventAppendLockKey})"),
                new NpgsqlBatchCommand("SELECT coalesce(max(sequence), 0) + 1 FROM orch_events"),
            },
        };
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return reader.GetInt64(0);
    }

    private static NpgsqlBatchCommand AppendEvents(List<StorageWrite> survivors, int eventCount, long nextSequence)
    {
        var sequences = new long[eventCount];
        var namespaces = new string[eventCount];
        var keys = new string[eventCount];
        var types = new string[eventCount];
        var timestamps = new DateTimeOffset[eventCount];
        var data = new string[eventCount];
        var index = 0;
        foreach (var write in survivors)
        {
            write.FirstSequence = nextSequence + index;
            foreach (var draft in write.Events)
            {
                sequences[index] = nextSequence + index;
                namespaces[index] = draft.StreamId.Namespace;
                keys[index] = draft.StreamId.Key;
                types[index] = draft.Type;
                timestamps[index] = draft.Timestamp;
                data[index] = draft.Data;
                index++;
            }
        }

        var command = new NpgsqlBatchCommand(AppendEventsSql);
        command.Parameters.Add(new NpgsqlParameter { Value = sequences });
        command.Parameters.Add(new NpgsqlParameter { Value = namespaces });
        command.Parameters.Add(new NpgsqlParameter { Value = keys });
        command.Parameters.Add(new NpgsqlParameter { Value = types });
        command.Parameters.Add(new NpgsqlParameter { Value = timestamps });
        command.Parameters.Add(new NpgsqlParameter { Value = data, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        return command;
    }

    private static void AddReminderChanges(NpgsqlBatch batch, List<ReminderChange> changes)
    {
        var upserts = changes.Where(change => change.Upsert is not null).Select(change => change.Upsert!).ToList();
        if (upserts.Count > 0)
        {
            var command = new NpgsqlBatchCommand(UpsertRemindersSql);
            command.Parameters.Add(new NpgsqlParameter { Value = upserts.Select(entry => entry.GrainId.Type).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = upserts.Select(entry => entry.GrainId.Key).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = upserts.Select(entry => entry.Name).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = upserts.Select(entry => entry.FirstDueAt).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = upserts.Select(entry => entry.Period).ToArray() });
            batch.BatchCommands.Add(command);
        }

        var deletes = changes.Where(change => change.Upsert is null).ToList();
        if (deletes.Count > 0)
        {
            var command = new NpgsqlBatchCommand(DeleteRemindersSql);
            command.Parameters.Add(new NpgsqlParameter { Value = deletes.Select(change => change.GrainId.Type).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = deletes.Select(change => change.GrainId.Key).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = deletes.Select(change => change.Name).ToArray() });
            batch.BatchCommands.Add(command);
        }
    }

    public async Task<IReadOnlyList<StreamEvent>> ReadEventsAsync(long afterSequence, int limit, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            "SELECT sequence, stream_namespace, stream_key, event_type, occurred_at, data::text FROM orch_events WHERE sequence > $1 ORDER BY sequence LIMIT $2");
        command.Parameters.Add(new NpgsqlParameter { Value = afterSequence });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var events = new List<StreamEvent>();
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(new StreamEvent(
                reader.GetInt64(0),
                new StreamId(reader.GetString(1), reader.GetString(2)),
                reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4),
                reader.GetString(5)));
        }

        return events;
    }

    public async Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("SELECT coalesce(max(sequence), 0) FROM orch_events");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<IReadOnlyList<ReminderEntry>> ReadRemindersAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            "SELECT grain_type, grain_key, reminder_name, first_due_at, period FROM orch_reminders");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var reminders = new List<ReminderEntry>();
        while (await reader.ReadAsync(cancellationToken))
        {
            reminders.Add(new ReminderEntry(
                new GrainId(reader.GetString(0), reader.GetString(1)),
                reader.GetString(2),
                reader.GetFieldValue<DateTimeOffset>(3),
                reader.GetFieldValue<TimeSpan>(4)));
        }

        return reminders;
    }

    public async Task<long> ReadCursorAsync(string subscriber, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("SELECT sequence FROM orch_stream_cursors WHERE subscriber = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = subscriber });
        return await command.ExecuteScalarAsync(cancellationToken) is long sequence ? sequence : 0;
    }

    public async Task WriteCursorAsync(string subscriber, long sequence, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("""
            INSERT INTO orch_stream_cursors (subscriber, sequence) VALUES ($1, $2)
            ON CONFLICT (subscriber) DO UPDATE SET sequence = greatest(orch_stream_cursors.sequence, excluded.sequence)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = subscriber });
        command.Parameters.Add(new NpgsqlParameter { Value = sequence });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task CheckHealthAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("SELECT 1");
        await command.ExecuteScalarAsync(cancellationToken);
    }

    public IAsyncDisposable WatchCommits(Action onCommit) => new PostgresCommitListener(_connectionString, EventChannel, onCommit);

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
