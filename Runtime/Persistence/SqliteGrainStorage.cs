using Microsoft.Data.Sqlite;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Streams;

namespace Orchestration.Runtime.Persistence;

/// <summary>
/// Storage in one SQLite file (WAL, synchronous=FULL): the embedded default, durable with no setup.
/// One connection writes (SQLite has one writer anyway); reads use pooled connections and run beside it.
/// </summary>
internal sealed class SqliteGrainStorage(string path, TimeProvider timeProvider) : IGrainStorage
{
    /// <summary>
    /// The schema, one step per release. Append-only: a released step is never edited (the tests hold their
    /// checksums), since databases that already ran it would never see the edit.
    /// </summary>
    internal static IReadOnlyList<string> Migrations { get; } =
    [
        """
        CREATE TABLE orch_grain_state (
            grain_type TEXT NOT NULL, grain_key TEXT NOT NULL, state_name TEXT NOT NULL,
            data TEXT NOT NULL, version INTEGER NOT NULL,
            PRIMARY KEY (grain_type, grain_key, state_name)) WITHOUT ROWID;
        CREATE TABLE orch_events (
            sequence INTEGER PRIMARY KEY, stream_namespace TEXT NOT NULL, stream_key TEXT NOT NULL,
            event_type TEXT NOT NULL, occurred_at_ticks INTEGER NOT NULL, data TEXT NOT NULL);
        CREATE TABLE orch_reminders (
            grain_type TEXT NOT NULL, grain_key TEXT NOT NULL, reminder_name TEXT NOT NULL,
            first_due_at_ticks INTEGER NOT NULL, period_ticks INTEGER NOT NULL,
            PRIMARY KEY (grain_type, grain_key, reminder_name)) WITHOUT ROWID;
        CREATE TABLE orch_stream_cursors (subscriber TEXT PRIMARY KEY, sequence INTEGER NOT NULL) WITHOUT ROWID;
        """,
        // Tombstones (StateWriteRules): a deleted state keeps its row and version with null data. SQLite cannot drop
        // NOT NULL in place, so the table is copied.
        """
        CREATE TABLE orch_grain_state_v2 (
            grain_type TEXT NOT NULL, grain_key TEXT NOT NULL, state_name TEXT NOT NULL,
            data TEXT, version INTEGER NOT NULL,
            PRIMARY KEY (grain_type, grain_key, state_name)) WITHOUT ROWID;
        INSERT INTO orch_grain_state_v2 (grain_type, grain_key, state_name, data, version)
            SELECT grain_type, grain_key, state_name, data, version FROM orch_grain_state;
        DROP TABLE orch_grain_state;
        ALTER TABLE orch_grain_state_v2 RENAME TO orch_grain_state;
        """,
        // Each event's tenant, recorded at commit by TenantKey.Of; the backfill below mirrors TenantKey.Of (the part of
        // the stream key before the first '/', or the whole key). Projections: text compares as BINARY (UTF-8 bytes),
        // the order ids are listed in.
        """
        ALTER TABLE orch_events ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
        UPDATE orch_events SET tenant = CASE WHEN instr(stream_key, '/') > 0 THEN substr(stream_key, 1, instr(stream_key, '/') - 1) ELSE stream_key END;
        CREATE INDEX orch_events_tenant ON orch_events (tenant, sequence);
        CREATE TABLE orch_projections (
            tenant TEXT NOT NULL, collection TEXT NOT NULL, id TEXT NOT NULL,
            status TEXT, owner TEXT, grp TEXT, document TEXT NOT NULL, updated_at_ticks INTEGER NOT NULL,
            PRIMARY KEY (tenant, collection, id)) WITHOUT ROWID;
        CREATE INDEX orch_projections_status ON orch_projections (tenant, collection, status, id);
        CREATE INDEX orch_projections_owner ON orch_projections (tenant, collection, owner, id);
        CREATE INDEX orch_projections_grp ON orch_projections (tenant, collection, grp, id);
        """,
        // The reminders a reload reads (every periodic one, the one-shots due soon), found by index.
        """
        CREATE INDEX orch_reminders_one_shot_due ON orch_reminders (first_due_at_ticks) WHERE period_ticks = 0;
        CREATE INDEX orch_reminders_periodic ON orch_reminders (grain_type, grain_key, reminder_name) WHERE period_ticks > 0;
        """,
    ];

    private readonly string _connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    // One writer connection; silos of a test cluster share this instance, so their batchers take turns here.
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private SqliteConnection? _writer;

    public string ProviderName => "Sqlite";

    public int MaxConcurrentCommits => 1;

    public Task InitializeAsync(CancellationToken cancellationToken) => InitializeAsync(Migrations.Count, cancellationToken);

    /// <summary>Migrates only up to <paramref name="migrationCount"/> steps: tests build the schema of an older release.</summary>
    internal async Task InitializeAsync(int migrationCount, CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            _writer ??= await OpenAsync(cancellationToken); // a restarted silo may initialize the same instance again
            Migrate(_writer, migrationCount);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private void Migrate(SqliteConnection writer, int migrationCount)
    {
        Execute(writer, "PRAGMA journal_mode = WAL;");
        using var transaction = writer.BeginTransaction(deferred: false);
        Execute(writer, "CREATE TABLE IF NOT EXISTS orch_schema_migrations (version INTEGER PRIMARY KEY, applied_at_ticks INTEGER NOT NULL);", transaction);
        using var current = Command(writer, "SELECT coalesce(max(version), 0) FROM orch_schema_migrations;", transaction);
        var applied = Convert.ToInt32(current.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        for (var version = applied + 1; version <= migrationCount; version++)
        {
            Execute(writer, Migrations[version - 1], transaction);
            using var record = Command(writer, "INSERT INTO orch_schema_migrations (version, applied_at_ticks) VALUES ($v, $t);", transaction);
            record.Parameters.AddWithValue("$v", version);
            record.Parameters.AddWithValue("$t", timeProvider.GetUtcNow().UtcTicks);
            record.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    public async Task<GrainStateRecord?> ReadStateAsync(GrainStateKey key, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using var command = Command(connection, "SELECT data, version FROM orch_grain_state WHERE grain_type = $t AND grain_key = $k AND state_name = $n AND data IS NOT NULL;");
        AddKey(command, key);
        using var reader = command.ExecuteReader();
        return reader.Read() ? new GrainStateRecord(reader.GetString(0), reader.GetInt64(1)) : null;
    }

    public async Task CommitAsync(IReadOnlyList<StorageWrite> writes, CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            Commit(_writer ?? throw new InvalidOperationException("Storage is not initialized."), writes, timeProvider.GetUtcNow().UtcTicks);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private static void Commit(SqliteConnection connection, IReadOnlyList<StorageWrite> writes, long nowTicks)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        using var nextSequence = Command(connection, "SELECT coalesce(max(sequence), 0) + 1 FROM orch_events;", transaction);
        var sequence = (long)nextSequence.ExecuteScalar()!;

        using var readVersion = Command(connection, "SELECT version, data IS NULL FROM orch_grain_state WHERE grain_type = $t AND grain_key = $k AND state_name = $n;", transaction);
        using var writeRow = Command(connection, "INSERT INTO orch_grain_state (grain_type, grain_key, state_name, data, version) VALUES ($t, $k, $n, $d, $v) ON CONFLICT DO UPDATE SET data = excluded.data, version = excluded.version;", transaction);
        using var appendEvent = Command(connection, "INSERT INTO orch_events (sequence, stream_namespace, stream_key, tenant, event_type, occurred_at_ticks, data) VALUES ($s, $ns, $sk, $tn, $et, $at, $d);", transaction);
        using var upsertReminder = Command(connection, "INSERT INTO orch_reminders (grain_type, grain_key, reminder_name, first_due_at_ticks, period_ticks) VALUES ($t, $k, $n, $due, $period) ON CONFLICT DO UPDATE SET first_due_at_ticks = excluded.first_due_at_ticks, period_ticks = excluded.period_ticks;", transaction);
        using var deleteReminder = Command(connection, "DELETE FROM orch_reminders WHERE grain_type = $t AND grain_key = $k AND reminder_name = $n;", transaction);

        foreach (var write in writes)
        {
            if (write.StateKey is { } key && !TryWriteState(write, key, readVersion, writeRow))
            {
                write.Conflict = true;
                continue;
            }

            write.FirstSequence = sequence;
            foreach (var draft in write.Events)
            {
                appendEvent.Parameters.Clear();
                appendEvent.Parameters.AddWithValue("$s", sequence++);
                appendEvent.Parameters.AddWithValue("$ns", draft.StreamId.Namespace);
                appendEvent.Parameters.AddWithValue("$sk", draft.StreamId.Key);
                appendEvent.Parameters.AddWithValue("$tn", TenantKey.Of(draft.StreamId.Key));
                appendEvent.Parameters.AddWithValue("$et", draft.Type);
                appendEvent.Parameters.AddWithValue("$at", draft.Timestamp.UtcTicks);
                appendEvent.Parameters.AddWithValue("$d", draft.Data);
                appendEvent.ExecuteNonQuery();
            }

            if (write.Projections.Count > 0)
            {
                ApplyProjections(connection, transaction, write.Projections, nowTicks);
            }

            foreach (var change in write.Reminders)
            {
                var command = change.Upsert is null ? deleteReminder : upsertReminder;
                command.Parameters.Clear();
                command.Parameters.AddWithValue("$t", change.GrainId.Type);
                command.Parameters.AddWithValue("$k", change.GrainId.Key);
                command.Parameters.AddWithValue("$n", change.Name);
                if (change.Upsert is { } entry)
                {
                    command.Parameters.AddWithValue("$due", entry.FirstDueAt.UtcTicks);
                    command.Parameters.AddWithValue("$period", entry.Period.Ticks);
                }

                command.ExecuteNonQuery();
            }
        }

        transaction.Commit();
    }

    /// <summary>In order, so the last change of a row wins. Commands are made here: writes without projections pay nothing.</summary>
    private static void ApplyProjections(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyList<ProjectionChange> changes, long nowTicks)
    {
        using var upsert = Command(connection, """
            INSERT INTO orch_projections (tenant, collection, id, status, owner, grp, document, updated_at_ticks) VALUES ($tn, $c, $id, $st, $ow, $gr, $doc, $at)
            ON CONFLICT DO UPDATE SET status = excluded.status, owner = excluded.owner, grp = excluded.grp, document = excluded.document, updated_at_ticks = excluded.updated_at_ticks;
            """, transaction);
        using var remove = Command(connection, "DELETE FROM orch_projections WHERE tenant = $tn AND collection = $c AND id = $id;", transaction);
        foreach (var change in changes)
        {
            var command = change.Upsert is null ? remove : upsert;
            command.Parameters.Clear();
            command.Parameters.AddWithValue("$tn", change.Tenant);
            command.Parameters.AddWithValue("$c", change.Collection);
            command.Parameters.AddWithValue("$id", change.Id);
            if (change.Upsert is { } row)
            {
                command.Parameters.AddWithValue("$st", (object?)row.Status ?? DBNull.Value);
                command.Parameters.AddWithValue("$ow", (object?)row.Owner ?? DBNull.Value);
                command.Parameters.AddWithValue("$gr", (object?)row.Group ?? DBNull.Value);
                command.Parameters.AddWithValue("$doc", row.Document);
                command.Parameters.AddWithValue("$at", nowTicks);
            }

            command.ExecuteNonQuery();
        }
    }

    /// <summary>Applies <see cref="StateWriteRules"/>; the transaction holds SQLite's write lock, so the row read stays current.</summary>
    private static bool TryWriteState(StorageWrite write, GrainStateKey key, SqliteCommand readVersion, SqliteCommand writeRow)
    {
        readVersion.Parameters.Clear();
        AddKey(readVersion, key);
        StoredVersion? stored = null;
        using (var reader = readVersion.ExecuteReader())
        {
            if (reader.Read())
            {
                stored = new StoredVersion(reader.GetInt64(0), reader.GetBoolean(1));
            }
        }

        var decision = StateWriteRules.Decide(stored, write.ExpectedVersion, write.IsDelete);
        if (decision.Conflict)
        {
            return false;
        }

        if (decision.Change is StateRowChange.Upsert or StateRowChange.Tombstone)
        {
            writeRow.Parameters.Clear();
            AddKey(writeRow, key);
            writeRow.Parameters.AddWithValue("$d", decision.Change == StateRowChange.Upsert ? write.Data! : DBNull.Value);
            writeRow.Parameters.AddWithValue("$v", decision.StoredVersion);
            writeRow.ExecuteNonQuery();
        }

        write.NewVersion = decision.NewVersion;
        return true;
    }

    public async Task<IReadOnlyList<StreamEvent>> ReadEventsAsync(long afterSequence, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using var command = Command(connection, "SELECT sequence, stream_namespace, stream_key, event_type, occurred_at_ticks, data FROM orch_events WHERE sequence > $after ORDER BY sequence LIMIT $limit;");
        command.Parameters.AddWithValue("$after", afterSequence);
        command.Parameters.AddWithValue("$limit", limit);
        return ReadEvents(command);
    }

    public async Task<IReadOnlyList<StreamEvent>> ReadTenantEventsAsync(string tenant, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using var command = Command(connection, "SELECT sequence, stream_namespace, stream_key, event_type, occurred_at_ticks, data FROM orch_events WHERE tenant = $tenant AND sequence > $after ORDER BY sequence LIMIT $limit;");
        command.Parameters.AddWithValue("$tenant", tenant);
        command.Parameters.AddWithValue("$after", afterSequence);
        command.Parameters.AddWithValue("$limit", limit);
        return ReadEvents(command);
    }

    private static List<StreamEvent> ReadEvents(SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        var events = new List<StreamEvent>();
        while (reader.Read())
        {
            events.Add(new StreamEvent(
                reader.GetInt64(0),
                new StreamId(reader.GetString(1), reader.GetString(2)),
                reader.GetString(3),
                new DateTimeOffset(reader.GetInt64(4), TimeSpan.Zero),
                reader.GetString(5)));
        }

        return events;
    }

    public async Task<ProjectionPage> QueryProjectionsAsync(ProjectionQuery query, CancellationToken cancellationToken)
    {
        var cursor = ProjectionCursor.Parse(query);
        await using var connection = await OpenAsync(cancellationToken);
        using var command = Command(connection, string.Empty);
        var sql = new System.Text.StringBuilder("SELECT tenant, collection, id, status, owner, grp, ")
            .Append(query.IncludeDocuments ? "document" : "''").Append(" FROM orch_projections WHERE collection = $c");
        command.Parameters.AddWithValue("$c", query.Collection);
        Filter("tenant", "$tn", query.Tenant);
        Filter("status", "$st", query.Status);
        Filter("owner", "$ow", query.Owner);
        Filter("grp", "$gr", query.Group);
        if (cursor is { } after)
        {
            sql.Append(after.Tenant is null ? " AND id > $after" : " AND (id, tenant) > ($after, $afterTenant)");
            command.Parameters.AddWithValue("$after", after.Id);
            if (after.Tenant is { } afterTenant)
            {
                command.Parameters.AddWithValue("$afterTenant", afterTenant);
            }
        }

        sql.Append(" ORDER BY id, tenant LIMIT $limit;");
        command.Parameters.AddWithValue("$limit", query.Limit + 1);
        command.CommandText = sql.ToString();
        using var reader = command.ExecuteReader();
        var rows = new List<ProjectionRow>();
        while (reader.Read())
        {
            rows.Add(ReadProjection(reader));
        }

        return ProjectionCursor.Page(rows, query);

        void Filter(string column, string name, string? value)
        {
            if (value is not null)
            {
                sql.Append(" AND ").Append(column).Append(" = ").Append(name);
                command.Parameters.AddWithValue(name, value);
            }
        }
    }

    public async Task<ProjectionRow?> ReadProjectionAsync(string collection, string tenant, string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using var command = Command(connection, "SELECT tenant, collection, id, status, owner, grp, document FROM orch_projections WHERE tenant = $tn AND collection = $c AND id = $id;");
        command.Parameters.AddWithValue("$tn", tenant);
        command.Parameters.AddWithValue("$c", collection);
        command.Parameters.AddWithValue("$id", id);
        using var reader = command.ExecuteReader();
        return reader.Read() ? ReadProjection(reader) : null;
    }

    private static ProjectionRow ReadProjection(SqliteDataReader reader) =>
        new(reader.GetString(1), reader.GetString(0), reader.GetString(2), reader.GetString(6))
        {
            Status = reader.IsDBNull(3) ? null : reader.GetString(3),
            Owner = reader.IsDBNull(4) ? null : reader.GetString(4),
            Group = reader.IsDBNull(5) ? null : reader.GetString(5),
        };

    public async Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using var command = Command(connection, "SELECT coalesce(max(sequence), 0) FROM orch_events;");
        return (long)command.ExecuteScalar()!;
    }

    public async Task<IReadOnlyList<ReminderEntry>> ReadRemindersAsync(DateTimeOffset? dueBy, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        const string Columns = "SELECT grain_type, grain_key, reminder_name, first_due_at_ticks, period_ticks FROM orch_reminders";
        using var command = Command(connection, $"{Columns} WHERE period_ticks > 0 UNION ALL {Columns} WHERE period_ticks = 0 AND first_due_at_ticks <= $by;");
        command.Parameters.AddWithValue("$by", dueBy?.UtcTicks ?? long.MaxValue);
        using var reader = command.ExecuteReader();
        var reminders = new List<ReminderEntry>();
        while (reader.Read())
        {
            reminders.Add(new ReminderEntry(
                new GrainId(reader.GetString(0), reader.GetString(1)),
                reader.GetString(2),
                new DateTimeOffset(reader.GetInt64(3), TimeSpan.Zero),
                TimeSpan.FromTicks(reader.GetInt64(4))));
        }

        return reminders;
    }

    public async Task<long> ReadCursorAsync(string subscriber, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using var command = Command(connection, "SELECT sequence FROM orch_stream_cursors WHERE subscriber = $s;");
        command.Parameters.AddWithValue("$s", subscriber);
        return command.ExecuteScalar() is long sequence ? sequence : 0;
    }

    public async Task WriteCursorAsync(string subscriber, long sequence, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using var command = Command(connection, "INSERT INTO orch_stream_cursors (subscriber, sequence) VALUES ($s, $q) ON CONFLICT DO UPDATE SET sequence = max(sequence, excluded.sequence);");
        command.Parameters.AddWithValue("$s", subscriber);
        command.Parameters.AddWithValue("$q", sequence);
        command.ExecuteNonQuery();
    }

    public async Task CheckHealthAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using var command = Command(connection, "SELECT count(*) FROM orch_schema_migrations;");
        command.ExecuteScalar();
    }

    /// <summary>SQLite has no notifications; other processes on the same file are seen by polling.</summary>
    public IAsyncDisposable WatchCommits(Action<long> onCommit) => NoWatch.Instance;

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync();
        }
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        // FULL: a commit is on disk before the writer is told; busy_timeout: other processes may hold the write lock briefly.
        Execute(connection, "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000;");
        return connection;
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = Command(connection, sql, transaction);
        command.ExecuteNonQuery();
    }

    private static void AddKey(SqliteCommand command, GrainStateKey key)
    {
        command.Parameters.AddWithValue("$t", key.GrainType);
        command.Parameters.AddWithValue("$k", key.GrainKey);
        command.Parameters.AddWithValue("$n", key.StateName);
    }

    private sealed class NoWatch : IAsyncDisposable
    {
        public static readonly NoWatch Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
