using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Streams;

namespace Orchestration.Runtime.Persistence;

/// <summary>
/// Storage in PostgreSQL: JSON state with a version column, the event log, reminders, stream cursors and projections.
/// Documents (state, projections, event payloads) are <c>json</c>, not <c>jsonb</c>: nothing queries inside them, so the
/// database only checks their syntax and keeps them byte for byte (what a live follower saw is what a resuming one reads);
/// <c>jsonb</c> would parse each into a tree on every write and print it again on every read.
/// A batch is one statement calling <c>orch_commit</c>, in a transaction of its own: it checks every row's version and
/// writes the survivors, then appends the survivors' events under a transaction-scoped advisory lock, which makes
/// event sequences follow commit order across processes (a reader that saw sequence N never later finds a smaller one).
/// </summary>
internal sealed partial class PostgresGrainStorage : IGrainStorage
{
    /// <summary>The NOTIFY channel that hints other processes about new events.</summary>
    public const string EventChannel = "orch_events";

    private const long EventAppendLockKey = 0x6F72_6368_6576_7473; // "orchevts"
    internal const long MigrationLockKey = 0x6F72_6368_6D69_6772; // "orchmigr"
    private const long FenceLockKey = 0x6F72_6368_6665_6E63; // "orchfenc"

    /// <summary>
    /// The SQLSTATE <c>orch_fence</c> raises when a write's partition epoch is no longer current; its message lists the
    /// stale pairs as <c>partition:epoch,…</c> (the message, since Npgsql redacts details by default).
    /// </summary>
    internal const string StaleEpochSqlState = "OR001";

    /// <summary>
    /// The schema, one step per release. Append-only: a released step is never edited (the tests hold their
    /// checksums), since databases that already ran it would never see the edit; a change is a new step.
    /// </summary>
    internal static IReadOnlyList<string> Migrations { get; } =
    [
        """
        CREATE TABLE orch_grain_state (
            grain_type text NOT NULL, grain_key text NOT NULL, state_name text NOT NULL,
            data jsonb NOT NULL, version bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (grain_type, grain_key, state_name)) WITH (fillfactor = 70);
        CREATE TABLE orch_events (
            sequence bigint PRIMARY KEY, stream_namespace text NOT NULL, stream_key text NOT NULL,
            event_type text NOT NULL, occurred_at timestamptz NOT NULL, data json NOT NULL);
        CREATE TABLE orch_reminders (
            grain_type text NOT NULL, grain_key text NOT NULL, reminder_name text NOT NULL,
            first_due_at timestamptz NOT NULL, period interval NOT NULL,
            PRIMARY KEY (grain_type, grain_key, reminder_name));
        CREATE TABLE orch_stream_cursors (subscriber text PRIMARY KEY, sequence bigint NOT NULL);
        """,
        CommitFunctionV1Sql,
        ApplyRemindersFunctionSql,
        """
        ALTER TABLE orch_grain_state ALTER COLUMN data DROP NOT NULL;
        """ + CommitFunctionV2Sql,
        TenantsAndProjectionsSql + CommitFunctionV3Sql,
        ClusterSql,
        ListIndexesSql + ApplyRemindersPlpgsqlSql + CommitFunctionV4Sql,
        JsonDocumentsSql + CommitFunctionV5Sql,
        ApplyRemindersInKeyOrderSql + CommitFunctionV6Sql,
        ReminderDueIndexesSql,
    ];

    /// <summary>
    /// Migration 10: the reminders a reload reads (every periodic one, the one-shots due soon) found by index, not by
    /// reading a day's idempotency reminders every minute. Partial, so each index holds only its own kind of row.
    /// </summary>
    private const string ReminderDueIndexesSql = """
        CREATE INDEX orch_reminders_one_shot_due ON orch_reminders (first_due_at) WHERE period = interval '0';
        CREATE INDEX orch_reminders_periodic ON orch_reminders (grain_type, grain_key, reminder_name) WHERE period > interval '0';
        """;

    /// <summary>
    /// Migration 5: each event's tenant, projections, and row-level security for tenant reads. Ids, tenants and
    /// collections are <c>COLLATE "C"</c> (byte order), so lists and their cursors follow ordinal order on any server
    /// locale. The reader role is cluster-wide, so it may exist already (made by another database of the cluster, even
    /// concurrently); the policy fails closed: with <c>app.current_org</c> unset (NULL) or reset (an empty string, what a
    /// pooled session keeps after a transaction that set it) no row matches. Table owners (the runtime's own commits and
    /// reads) are not subject to it (no FORCE).
    /// </summary>
    private const string TenantsAndProjectionsSql = """
        ALTER TABLE orch_events ADD COLUMN tenant text COLLATE "C";
        -- Backfill by TenantKey.Of's rule in SQL: split_part mirrors it (the part before the first '/', or the whole key).
        UPDATE orch_events SET tenant = split_part(stream_key, '/', 1);
        ALTER TABLE orch_events ALTER COLUMN tenant SET NOT NULL;
        CREATE INDEX orch_events_tenant ON orch_events (tenant, sequence);
        CREATE TABLE orch_projections (
            tenant text COLLATE "C" NOT NULL, collection text COLLATE "C" NOT NULL, id text COLLATE "C" NOT NULL,
            status text, owner text, grp text, document jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant, collection, id));
        CREATE INDEX orch_projections_status ON orch_projections (tenant, collection, status, id);
        CREATE INDEX orch_projections_owner ON orch_projections (tenant, collection, owner, id);
        CREATE INDEX orch_projections_grp ON orch_projections (tenant, collection, grp, id);
        DROP FUNCTION orch_commit(int[], text[], text[], text[], jsonb[], bigint[], bool[], int[], text[], text[], text[], timestamptz[], json[],
            int[], text[], text[], text[], timestamptz[], interval[], bigint, text);
        DO $$
        BEGIN
            BEGIN
                CREATE ROLE orch_tenant_reader NOLOGIN;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- another database of this cluster made it first
            END;
            -- Superusers may already SET ROLE to it; PostgreSQL 16 separates the right to SET ROLE from membership.
            IF NOT pg_has_role(current_user, 'orch_tenant_reader',
                CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END) THEN
                EXECUTE format('GRANT orch_tenant_reader TO %I', current_user);
            END IF;
        END
        $$;
        GRANT SELECT ON orch_events, orch_projections TO orch_tenant_reader;
        ALTER TABLE orch_events ENABLE ROW LEVEL SECURITY;
        ALTER TABLE orch_projections ENABLE ROW LEVEL SECURITY;
        CREATE POLICY orch_events_tenant_read ON orch_events FOR SELECT TO orch_tenant_reader
            USING (tenant = nullif(current_setting('app.current_org', true), ''));
        CREATE POLICY orch_projections_tenant_read ON orch_projections FOR SELECT TO orch_tenant_reader
            USING (tenant = nullif(current_setting('app.current_org', true), ''));

        """;

    /// <summary>
    /// Migration 6: cluster membership (a version row, as Orleans' ADO.NET membership table, and one row per silo
    /// generation) and partition leases with fencing epochs. An owner change takes the fence lock exclusively and
    /// raises the epoch; every fenced commit takes it shared and checks its epochs while holding it (until its
    /// transaction ends), so a commit is ordered wholly before or wholly after a change of owner and a writer whose
    /// epoch is gone writes nothing. Renewals take no lock: they only move an owner's expiry and leave the epoch alone.
    /// Lease times are the database's clock (<c>now()</c>, the transaction's start: an expiry set from it is never later
    /// than the holder's own reckoning, and a takeover that waited on the lock judges expiry by an earlier instant).
    /// </summary>
    private static string ClusterSql => $"""
        CREATE SEQUENCE orch_silo_generation;
        CREATE TABLE orch_membership_version (
            singleton bool PRIMARY KEY DEFAULT true CHECK (singleton), version bigint NOT NULL, changed_at timestamptz NOT NULL DEFAULT now());
        INSERT INTO orch_membership_version (version) VALUES (0);
        CREATE TABLE orch_silos (
            silo_id text COLLATE "C" NOT NULL, generation bigint NOT NULL, address text NOT NULL,
            status text NOT NULL CHECK (status IN ('joining', 'active', 'shutting_down', 'dead')),
            started_at timestamptz NOT NULL DEFAULT now(), heartbeat_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (silo_id, generation));
        CREATE TABLE orch_partitions (
            partition int PRIMARY KEY, owner_silo text COLLATE "C", owner_generation bigint, epoch bigint NOT NULL DEFAULT 0,
            expires_at timestamptz);
        INSERT INTO orch_partitions (partition) SELECT generate_series(0, {Clustering.ClusterPartitions.Count - 1});

        CREATE FUNCTION orch_fence(f_partition int[], f_epoch bigint[], pass bigint) RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE
            stale text;
        BEGIN
            IF cardinality(f_partition) > 0 THEN
                PERFORM pg_advisory_xact_lock_shared({FenceLockKey});
                SELECT string_agg(f.p || ':' || f.e, ',') INTO stale
                FROM unnest(f_partition, f_epoch) AS f(p, e) LEFT JOIN orch_partitions o ON o.partition = f.p
                WHERE o.epoch IS DISTINCT FROM f.e;
                IF stale IS NOT NULL THEN
                    RAISE EXCEPTION '%', stale USING ERRCODE = '{StaleEpochSqlState}';
                END IF;
            END IF;
            RETURN pass;
        END
        $$;

        CREATE FUNCTION orch_acquire_partitions(silo text, gen bigint, wanted int[], ttl interval)
        RETURNS TABLE (acquired int, epoch bigint) LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock({FenceLockKey});
            RETURN QUERY
            UPDATE orch_partitions p
            SET owner_silo = silo, owner_generation = gen, epoch = p.epoch + 1, expires_at = now() + ttl
            WHERE p.partition = ANY (wanted) AND (p.owner_silo IS NULL OR p.expires_at < now())
            RETURNING p.partition, p.epoch;
            PERFORM pg_notify('{Clustering.PostgresMembershipTable.PartitionChannel}', '');
        END
        $$;
        """;

    /// <summary>
    /// One commit, one statement, one round trip: the function runs in the statement's own transaction, so a batch is
    /// atomic and the advisory lock it takes for the event log is held only from the append to the commit.
    /// Superseded by <see cref="CommitFunctionV2Sql"/>; kept verbatim because migration 2 is released.
    /// </summary>
    private const string CommitFunctionV1Sql = """
        CREATE OR REPLACE FUNCTION orch_commit(
            s_ord int[], s_type text[], s_key text[], s_name text[], s_data jsonb[], s_expected bigint[], s_delete bool[],
            e_ord int[], e_ns text[], e_key text[], e_type text[], e_at timestamptz[], e_data json[],
            r_ord int[], r_type text[], r_key text[], r_name text[], r_due timestamptz[], r_period interval[],
            event_lock bigint, event_channel text,
            OUT stored_ords int[], OUT stored_versions bigint[], OUT first_sequence bigint)
        LANGUAGE plpgsql AS $$
        DECLARE
            failed int[];
            appended int;
        BEGIN
            -- State writes, each checked against the version its writer read.
            WITH input AS (
                SELECT * FROM unnest(s_ord, s_type, s_key, s_name, s_data, s_expected, s_delete)
                    AS i(ord, grain_type, grain_key, state_name, data, expected, is_delete)),
            updated AS (
                UPDATE orch_grain_state s SET data = i.data, version = s.version + 1, updated_at = now()
                FROM input i
                WHERE NOT i.is_delete AND i.expected > 0 AND s.version = i.expected
                  AND s.grain_type = i.grain_type AND s.grain_key = i.grain_key AND s.state_name = i.state_name
                RETURNING i.ord, s.version),
            inserted AS (
                INSERT INTO orch_grain_state AS s (grain_type, grain_key, state_name, data, version)
                SELECT i.grain_type, i.grain_key, i.state_name, i.data, 1 FROM input i WHERE NOT i.is_delete AND i.expected = 0
                ON CONFLICT DO NOTHING
                RETURNING s.grain_type, s.grain_key, s.state_name, s.version),
            deleted AS (
                DELETE FROM orch_grain_state s USING input i
                WHERE i.is_delete AND s.version = i.expected
                  AND s.grain_type = i.grain_type AND s.grain_key = i.grain_key AND s.state_name = i.state_name
                RETURNING i.ord),
            stored AS (
                SELECT u.ord, u.version FROM updated u
                UNION ALL
                SELECT i.ord, n.version FROM inserted n JOIN input i
                    ON NOT i.is_delete AND i.expected = 0
                   AND i.grain_type = n.grain_type AND i.grain_key = n.grain_key AND i.state_name = n.state_name
                UNION ALL
                SELECT d.ord, 0 FROM deleted d)
            SELECT coalesce(array_agg(stored.ord), '{}'), coalesce(array_agg(stored.version), '{}')
            INTO stored_ords, stored_versions FROM stored;

            -- Usually nothing conflicts; only then is the quadratic search for the losers worth it.
            IF cardinality(stored_ords) = cardinality(s_ord) THEN
                failed := '{}';
            ELSE
                failed := ARRAY(SELECT o FROM unnest(s_ord) AS o WHERE o <> ALL (stored_ords));
            END IF;

            -- Events of the writes that stored, numbered in array order under a lock held until commit.
            IF EXISTS (SELECT 1 FROM unnest(e_ord) AS o WHERE o <> ALL (failed)) THEN
                PERFORM pg_advisory_xact_lock(event_lock);
                SELECT coalesce(max(sequence), 0) + 1 INTO first_sequence FROM orch_events;
                INSERT INTO orch_events (sequence, stream_namespace, stream_key, event_type, occurred_at, data)
                SELECT first_sequence - 1 + row_number() OVER (ORDER BY e.idx), e.ns, e.key, e.type, e.at, e.data
                FROM unnest(e_ord, e_ns, e_key, e_type, e_at, e_data) WITH ORDINALITY AS e(ord, ns, key, type, at, data, idx)
                WHERE e.ord <> ALL (failed);
                GET DIAGNOSTICS appended = ROW_COUNT;
                PERFORM pg_notify(event_channel, (first_sequence + appended - 1)::text);
            END IF;

            -- Reminder changes of the writes that stored; a null due time deletes.
            INSERT INTO orch_reminders AS r (grain_type, grain_key, reminder_name, first_due_at, period)
            SELECT c.type, c.key, c.name, c.due, c.period
            FROM unnest(r_ord, r_type, r_key, r_name, r_due, r_period) AS c(ord, type, key, name, due, period)
            WHERE c.due IS NOT NULL AND c.ord <> ALL (failed)
            ON CONFLICT (grain_type, grain_key, reminder_name) DO UPDATE SET first_due_at = excluded.first_due_at, period = excluded.period;
            DELETE FROM orch_reminders r
            USING unnest(r_ord, r_type, r_key, r_name, r_due) AS c(ord, type, key, name, due)
            WHERE c.due IS NULL AND c.ord <> ALL (failed)
              AND r.grain_type = c.type AND r.grain_key = c.key AND r.reminder_name = c.name;
        END
        $$;
        """;

    /// <summary>
    /// Reminder changes apply in batch order, so only the last change of each reminder among the writes that stored counts
    /// (one <c>ON CONFLICT</c> statement may not touch a row twice, and "unregister, then register" must leave it registered).
    /// A write failed when its state write was sent (in <c>s_ord</c>) but did not store.
    /// </summary>
    private const string ApplyRemindersFunctionSql = """
        CREATE OR REPLACE FUNCTION orch_apply_reminders(
            s_ord int[], stored_ords int[],
            r_ord int[], r_type text[], r_key text[], r_name text[], r_due timestamptz[], r_period interval[])
        RETURNS void LANGUAGE sql AS $$
            WITH latest AS (
                SELECT DISTINCT ON (c.type, c.key, c.name) c.type, c.key, c.name, c.due, c.period
                FROM unnest(r_ord, r_type, r_key, r_name, r_due, r_period) WITH ORDINALITY AS c(ord, type, key, name, due, period, idx)
                WHERE c.ord = ANY (stored_ords) OR c.ord <> ALL (s_ord)
                ORDER BY c.type, c.key, c.name, c.idx DESC),
            upserted AS (
                INSERT INTO orch_reminders AS r (grain_type, grain_key, reminder_name, first_due_at, period)
                SELECT l.type, l.key, l.name, l.due, l.period FROM latest l WHERE l.due IS NOT NULL
                ON CONFLICT (grain_type, grain_key, reminder_name) DO UPDATE SET first_due_at = excluded.first_due_at, period = excluded.period)
            DELETE FROM orch_reminders r USING latest l
            WHERE l.due IS NULL AND r.grain_type = l.type AND r.grain_key = l.key AND r.reminder_name = l.name;
        $$;
        """;

    /// <summary>
    /// <see cref="CommitFunctionV1Sql"/> with the rules of <see cref="StateWriteRules"/> (tombstones, deletes checked
    /// like writes) and a lock order: the batch's existing rows are locked first, in key order, and its new rows are
    /// inserted in key order after that. Every batch thus waits for others in the same direction, so concurrent
    /// commits (in one process or several) cannot deadlock. Events and reminders are unchanged.
    /// </summary>
    private const string CommitFunctionV2Sql = """
        CREATE OR REPLACE FUNCTION orch_commit(
            s_ord int[], s_type text[], s_key text[], s_name text[], s_data jsonb[], s_expected bigint[], s_delete bool[],
            e_ord int[], e_ns text[], e_key text[], e_type text[], e_at timestamptz[], e_data json[],
            r_ord int[], r_type text[], r_key text[], r_name text[], r_due timestamptz[], r_period interval[],
            event_lock bigint, event_channel text,
            OUT stored_ords int[], OUT stored_versions bigint[], OUT first_sequence bigint)
        LANGUAGE plpgsql AS $$
        DECLARE
            failed int[];
            appended int;
            l_type text[];
            l_key text[];
            l_name text[];
            l_version bigint[];
            l_tombstone bool[];
        BEGIN
            -- Lock order, part 1: the rows that exist, in key order (LockRows runs above the sort).
            SELECT coalesce(array_agg(l.grain_type), '{}'), coalesce(array_agg(l.grain_key), '{}'), coalesce(array_agg(l.state_name), '{}'),
                   coalesce(array_agg(l.version), '{}'), coalesce(array_agg(l.tombstone), '{}')
            INTO l_type, l_key, l_name, l_version, l_tombstone
            FROM (SELECT s.grain_type, s.grain_key, s.state_name, s.version, s.data IS NULL AS tombstone
                  FROM orch_grain_state s
                  WHERE (s.grain_type, s.grain_key, s.state_name) IN (SELECT * FROM unnest(s_type, s_key, s_name))
                  ORDER BY s.grain_type, s.grain_key, s.state_name
                  FOR UPDATE) l;

            -- StateWriteRules.Decide, against the locked versions: the writer must hold the visible version (0 for no
            -- row or a tombstone); a write stores counter + 1, a delete of a live row leaves a tombstone at counter + 1,
            -- a delete of nothing succeeds without a change. Decisions use the locked snapshot only, so a row another
            -- batch inserts meanwhile is never updated unlocked: the insert below finds it and that write conflicts.
            WITH input AS (
                SELECT * FROM unnest(s_ord, s_type, s_key, s_name, s_data, s_expected, s_delete)
                    AS i(ord, grain_type, grain_key, state_name, data, expected, is_delete)),
            locked AS (
                SELECT * FROM unnest(l_type, l_key, l_name, l_version, l_tombstone)
                    AS c(grain_type, grain_key, state_name, version, tombstone)),
            allowed AS (
                SELECT i.*, c.version AS stored_version, coalesce(c.tombstone, false) AS tombstone
                FROM input i LEFT JOIN locked c
                  ON c.grain_type = i.grain_type AND c.grain_key = i.grain_key AND c.state_name = i.state_name
                WHERE i.expected = CASE WHEN c.version IS NULL OR c.tombstone THEN 0 ELSE c.version END),
            updated AS (
                UPDATE orch_grain_state s
                SET data = CASE WHEN a.is_delete THEN NULL ELSE a.data END, version = a.stored_version + 1, updated_at = now()
                FROM allowed a
                WHERE a.stored_version IS NOT NULL AND NOT (a.is_delete AND a.tombstone)
                  AND s.grain_type = a.grain_type AND s.grain_key = a.grain_key AND s.state_name = a.state_name
                  AND s.version = a.stored_version
                RETURNING a.ord, CASE WHEN a.is_delete THEN 0 ELSE s.version END AS version),
            -- Lock order, part 2: new rows in key order. One row per key even if a caller sent the same key twice.
            inserted AS (
                INSERT INTO orch_grain_state AS s (grain_type, grain_key, state_name, data, version)
                SELECT DISTINCT ON (a.grain_type, a.grain_key, a.state_name) a.grain_type, a.grain_key, a.state_name, a.data, 1
                FROM allowed a WHERE a.stored_version IS NULL AND NOT a.is_delete
                ORDER BY a.grain_type, a.grain_key, a.state_name, a.ord
                ON CONFLICT DO NOTHING
                RETURNING s.grain_type, s.grain_key, s.state_name),
            stored AS (
                SELECT u.ord, u.version FROM updated u
                UNION ALL
                SELECT min(a.ord), 1 FROM inserted n JOIN allowed a
                    ON a.stored_version IS NULL AND NOT a.is_delete
                   AND a.grain_type = n.grain_type AND a.grain_key = n.grain_key AND a.state_name = n.state_name
                GROUP BY n.grain_type, n.grain_key, n.state_name
                UNION ALL
                SELECT a.ord, 0 FROM allowed a WHERE a.is_delete AND (a.stored_version IS NULL OR a.tombstone))
            SELECT coalesce(array_agg(stored.ord), '{}'), coalesce(array_agg(stored.version), '{}')
            INTO stored_ords, stored_versions FROM stored;

            -- Usually nothing conflicts; only then is the quadratic search for the losers worth it.
            IF cardinality(stored_ords) = cardinality(s_ord) THEN
                failed := '{}';
            ELSE
                failed := ARRAY(SELECT o FROM unnest(s_ord) AS o WHERE o <> ALL (stored_ords));
            END IF;

            -- Events of the writes that stored, numbered in array order under a lock held until commit.
            IF EXISTS (SELECT 1 FROM unnest(e_ord) AS o WHERE o <> ALL (failed)) THEN
                PERFORM pg_advisory_xact_lock(event_lock);
                SELECT coalesce(max(sequence), 0) + 1 INTO first_sequence FROM orch_events;
                INSERT INTO orch_events (sequence, stream_namespace, stream_key, event_type, occurred_at, data)
                SELECT first_sequence - 1 + row_number() OVER (ORDER BY e.idx), e.ns, e.key, e.type, e.at, e.data
                FROM unnest(e_ord, e_ns, e_key, e_type, e_at, e_data) WITH ORDINALITY AS e(ord, ns, key, type, at, data, idx)
                WHERE e.ord <> ALL (failed);
                GET DIAGNOSTICS appended = ROW_COUNT;
                PERFORM pg_notify(event_channel, (first_sequence + appended - 1)::text);
            END IF;

            -- Reminder changes of the writes that stored; a null due time deletes.
            INSERT INTO orch_reminders AS r (grain_type, grain_key, reminder_name, first_due_at, period)
            SELECT c.type, c.key, c.name, c.due, c.period
            FROM unnest(r_ord, r_type, r_key, r_name, r_due, r_period) AS c(ord, type, key, name, due, period)
            WHERE c.due IS NOT NULL AND c.ord <> ALL (failed)
            ON CONFLICT (grain_type, grain_key, reminder_name) DO UPDATE SET first_due_at = excluded.first_due_at, period = excluded.period;
            DELETE FROM orch_reminders r
            USING unnest(r_ord, r_type, r_key, r_name, r_due) AS c(ord, type, key, name, due)
            WHERE c.due IS NULL AND c.ord <> ALL (failed)
              AND r.grain_type = c.type AND r.grain_key = c.key AND r.reminder_name = c.name;
        END
        $$;
        """;

    /// <summary>
    /// <see cref="CommitFunctionV2Sql"/> plus each event's tenant (computed by the caller with <see cref="TenantKey.Of"/>)
    /// and the batch's projection changes, committed in the same transaction as the state writes they go with. Reminder
    /// arguments are gone: <c>orch_apply_reminders</c> has applied them since migration 3. Superseded by
    /// <see cref="CommitFunctionV4Sql"/> (migration 7, an overload that takes the reminders); kept verbatim because
    /// migration 5 is released, and in the database for silos of the previous release during a rolling upgrade.
    /// </summary>
    private const string CommitFunctionV3Sql = """
        CREATE FUNCTION orch_commit(
            s_ord int[], s_type text[], s_key text[], s_name text[], s_data jsonb[], s_expected bigint[], s_delete bool[],
            e_ord int[], e_ns text[], e_key text[], e_tenant text[], e_type text[], e_at timestamptz[], e_data json[],
            p_ord int[], p_collection text[], p_tenant text[], p_id text[], p_status text[], p_owner text[], p_grp text[], p_document jsonb[],
            event_lock bigint, event_channel text,
            OUT stored_ords int[], OUT stored_versions bigint[], OUT first_sequence bigint)
        LANGUAGE plpgsql AS $$
        DECLARE
            failed int[];
            appended int;
            l_type text[];
            l_key text[];
            l_name text[];
            l_version bigint[];
            l_tombstone bool[];
        BEGIN
            -- Lock order, part 1: the rows that exist, in key order (LockRows runs above the sort).
            SELECT coalesce(array_agg(l.grain_type), '{}'), coalesce(array_agg(l.grain_key), '{}'), coalesce(array_agg(l.state_name), '{}'),
                   coalesce(array_agg(l.version), '{}'), coalesce(array_agg(l.tombstone), '{}')
            INTO l_type, l_key, l_name, l_version, l_tombstone
            FROM (SELECT s.grain_type, s.grain_key, s.state_name, s.version, s.data IS NULL AS tombstone
                  FROM orch_grain_state s
                  WHERE (s.grain_type, s.grain_key, s.state_name) IN (SELECT * FROM unnest(s_type, s_key, s_name))
                  ORDER BY s.grain_type, s.grain_key, s.state_name
                  FOR UPDATE) l;

            -- StateWriteRules.Decide, against the locked versions: the writer must hold the visible version (0 for no
            -- row or a tombstone); a write stores counter + 1, a delete of a live row leaves a tombstone at counter + 1,
            -- a delete of nothing succeeds without a change. Decisions use the locked snapshot only, so a row another
            -- batch inserts meanwhile is never updated unlocked: the insert below finds it and that write conflicts.
            WITH input AS (
                SELECT * FROM unnest(s_ord, s_type, s_key, s_name, s_data, s_expected, s_delete)
                    AS i(ord, grain_type, grain_key, state_name, data, expected, is_delete)),
            locked AS (
                SELECT * FROM unnest(l_type, l_key, l_name, l_version, l_tombstone)
                    AS c(grain_type, grain_key, state_name, version, tombstone)),
            allowed AS (
                SELECT i.*, c.version AS stored_version, coalesce(c.tombstone, false) AS tombstone
                FROM input i LEFT JOIN locked c
                  ON c.grain_type = i.grain_type AND c.grain_key = i.grain_key AND c.state_name = i.state_name
                WHERE i.expected = CASE WHEN c.version IS NULL OR c.tombstone THEN 0 ELSE c.version END),
            updated AS (
                UPDATE orch_grain_state s
                SET data = CASE WHEN a.is_delete THEN NULL ELSE a.data END, version = a.stored_version + 1, updated_at = now()
                FROM allowed a
                WHERE a.stored_version IS NOT NULL AND NOT (a.is_delete AND a.tombstone)
                  AND s.grain_type = a.grain_type AND s.grain_key = a.grain_key AND s.state_name = a.state_name
                  AND s.version = a.stored_version
                RETURNING a.ord, CASE WHEN a.is_delete THEN 0 ELSE s.version END AS version),
            -- Lock order, part 2: new rows in key order. One row per key even if a caller sent the same key twice.
            inserted AS (
                INSERT INTO orch_grain_state AS s (grain_type, grain_key, state_name, data, version)
                SELECT DISTINCT ON (a.grain_type, a.grain_key, a.state_name) a.grain_type, a.grain_key, a.state_name, a.data, 1
                FROM allowed a WHERE a.stored_version IS NULL AND NOT a.is_delete
                ORDER BY a.grain_type, a.grain_key, a.state_name, a.ord
                ON CONFLICT DO NOTHING
                RETURNING s.grain_type, s.grain_key, s.state_name),
            stored AS (
                SELECT u.ord, u.version FROM updated u
                UNION ALL
                SELECT min(a.ord), 1 FROM inserted n JOIN allowed a
                    ON a.stored_version IS NULL AND NOT a.is_delete
                   AND a.grain_type = n.grain_type AND a.grain_key = n.grain_key AND a.state_name = n.state_name
                GROUP BY n.grain_type, n.grain_key, n.state_name
                UNION ALL
                SELECT a.ord, 0 FROM allowed a WHERE a.is_delete AND (a.stored_version IS NULL OR a.tombstone))
            SELECT coalesce(array_agg(stored.ord), '{}'), coalesce(array_agg(stored.version), '{}')
            INTO stored_ords, stored_versions FROM stored;

            -- Usually nothing conflicts; only then is the quadratic search for the losers worth it.
            IF cardinality(stored_ords) = cardinality(s_ord) THEN
                failed := '{}';
            ELSE
                failed := ARRAY(SELECT o FROM unnest(s_ord) AS o WHERE o <> ALL (stored_ords));
            END IF;

            -- Events of the writes that stored, numbered in array order under a lock held until commit.
            IF EXISTS (SELECT 1 FROM unnest(e_ord) AS o WHERE o <> ALL (failed)) THEN
                PERFORM pg_advisory_xact_lock(event_lock);
                SELECT coalesce(max(sequence), 0) + 1 INTO first_sequence FROM orch_events;
                INSERT INTO orch_events (sequence, stream_namespace, stream_key, tenant, event_type, occurred_at, data)
                SELECT first_sequence - 1 + row_number() OVER (ORDER BY e.idx), e.ns, e.key, e.tenant, e.type, e.at, e.data
                FROM unnest(e_ord, e_ns, e_key, e_tenant, e_type, e_at, e_data) WITH ORDINALITY AS e(ord, ns, key, tenant, type, at, data, idx)
                WHERE e.ord <> ALL (failed);
                GET DIAGNOSTICS appended = ROW_COUNT;
                PERFORM pg_notify(event_channel, (first_sequence + appended - 1)::text);
            END IF;

            -- Projection changes of the writes that stored (a null document removes); in batch order, so the last change
            -- of a row wins. Lock order as for state: the rows that exist first, in key order, then new rows inserted in
            -- key order, so concurrent commits cannot deadlock here either. A batch without projections skips it all.
            IF cardinality(p_ord) > 0 THEN
                PERFORM 1 FROM orch_projections p
                WHERE (p.tenant, p.collection, p.id) IN (SELECT * FROM unnest(p_tenant, p_collection, p_id))
                ORDER BY p.tenant, p.collection, p.id
                FOR UPDATE;

                WITH latest AS (
                    SELECT DISTINCT ON (c.tenant, c.collection, c.id) c.*
                    FROM unnest(p_ord, p_collection, p_tenant, p_id, p_status, p_owner, p_grp, p_document) WITH ORDINALITY
                        AS c(ord, collection, tenant, id, status, owner, grp, document, idx)
                    WHERE c.ord <> ALL (failed)
                    ORDER BY c.tenant, c.collection, c.id, c.idx DESC),
                removed AS (
                    DELETE FROM orch_projections p USING latest l
                    WHERE l.document IS NULL AND p.tenant = l.tenant AND p.collection = l.collection AND p.id = l.id)
                INSERT INTO orch_projections AS p (tenant, collection, id, status, owner, grp, document, updated_at)
                SELECT l.tenant, l.collection, l.id, l.status, l.owner, l.grp, l.document, now()
                FROM latest l WHERE l.document IS NOT NULL
                ORDER BY l.tenant COLLATE "C", l.collection COLLATE "C", l.id COLLATE "C"
                ON CONFLICT (tenant, collection, id) DO UPDATE
                SET status = excluded.status, owner = excluded.owner, grp = excluded.grp, document = excluded.document, updated_at = excluded.updated_at;
            END IF;
        END
        $$;
        """;

    /// <summary>
    /// Migration 7, first part: the projections' list indexes (status, owner, group) hold only the rows that have the
    /// value, so a lookup by key can only use the primary key. As full indexes they share the key's first two columns and
    /// end in <c>id</c>: with no statistics yet (a young database; plans cached by commit connections at start-up) the
    /// planner rated them as good as the primary key and looked a row up through one, visiting every row of the tenant's
    /// collection. Lists filter with <c>column = value</c>, which implies the predicate. They are smaller too (owners and
    /// groups are mostly null), and a write whose row leaves a predicate adds no entry there.
    /// </summary>
    private const string ListIndexesSql = """
        CREATE INDEX orch_projections_status_set ON orch_projections (tenant, collection, status, id) WHERE status IS NOT NULL;
        CREATE INDEX orch_projections_owner_set ON orch_projections (tenant, collection, owner, id) WHERE owner IS NOT NULL;
        CREATE INDEX orch_projections_grp_set ON orch_projections (tenant, collection, grp, id) WHERE grp IS NOT NULL;
        DROP INDEX orch_projections_status, orch_projections_owner, orch_projections_grp;

        """;

    /// <summary>
    /// Migration 7, second part: <see cref="ApplyRemindersFunctionSql"/>'s statement, unchanged, in PL/pgSQL. A SQL
    /// function that is not inlined (this one modifies data) is planned again at every call; PL/pgSQL keeps its plan
    /// for the session, which saved most of the function's time per commit (measured: about 1 ms per call, mostly planning).
    /// </summary>
    private const string ApplyRemindersPlpgsqlSql = """
        CREATE OR REPLACE FUNCTION orch_apply_reminders(
            s_ord int[], stored_ords int[],
            r_ord int[], r_type text[], r_key text[], r_name text[], r_due timestamptz[], r_period interval[])
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            WITH latest AS (
                SELECT DISTINCT ON (c.type, c.key, c.name) c.type, c.key, c.name, c.due, c.period
                FROM unnest(r_ord, r_type, r_key, r_name, r_due, r_period) WITH ORDINALITY AS c(ord, type, key, name, due, period, idx)
                WHERE c.ord = ANY (stored_ords) OR c.ord <> ALL (s_ord)
                ORDER BY c.type, c.key, c.name, c.idx DESC),
            upserted AS (
                INSERT INTO orch_reminders AS r (grain_type, grain_key, reminder_name, first_due_at, period)
                SELECT l.type, l.key, l.name, l.due, l.period FROM latest l WHERE l.due IS NOT NULL
                ON CONFLICT (grain_type, grain_key, reminder_name) DO UPDATE SET first_due_at = excluded.first_due_at, period = excluded.period)
            DELETE FROM orch_reminders r USING latest l
            WHERE l.due IS NULL AND r.grain_type = l.type AND r.grain_key = l.key AND r.reminder_name = l.name;
        END
        $$;

        """;

    /// <summary>
    /// Migration 7: <see cref="CommitFunctionV3Sql"/> with the same rules, lock order and results, reshaped so that a
    /// commit's cost follows its batch, not its tables, and the event lock covers as little as possible. An overload
    /// that also takes the reminders (V3 stays for silos of the previous release).
    /// <list type="bullet">
    /// <item>Existing rows (state and projections) are locked one primary-key lookup per key of the batch, in key order.
    /// V3's semi-join let the planner hash the batch and scan the whole table whenever the batch was large next to the
    /// table (measured: a sequential scan of the state table on almost every commit of the task benchmark).</item>
    /// <item>The lock step returns each locked row's input ordinal and physical address (<c>ctid</c>, stable while the
    /// row stays locked by this transaction), so deciding joins on an integer instead of three texts and the update
    /// fetches each row by address. New rows are inserted by a statement of their own that needs no join back to the
    /// writes (V3's was planned as a nested loop at any batch size: 180 ms for a cold start's batch of 1,024 first
    /// writes).</item>
    /// <item>Projections, then reminders, then events: the event lock serialises committing transactions from the
    /// append to the end of their commit (so sequences become visible in order), and now covers only the append and
    /// the commit itself. When every state write stored, events are numbered by position, with no sort or window.</item>
    /// </list>
    /// </summary>
    private const string CommitFunctionV4Sql = """
        CREATE FUNCTION orch_commit(
            s_ord int[], s_type text[], s_key text[], s_name text[], s_data jsonb[], s_expected bigint[], s_delete bool[],
            e_ord int[], e_ns text[], e_key text[], e_tenant text[], e_type text[], e_at timestamptz[], e_data json[],
            p_ord int[], p_collection text[], p_tenant text[], p_id text[], p_status text[], p_owner text[], p_grp text[], p_document jsonb[],
            r_ord int[], r_type text[], r_key text[], r_name text[], r_due timestamptz[], r_period interval[],
            event_lock bigint, event_channel text,
            OUT stored_ords int[], OUT stored_versions bigint[], OUT first_sequence bigint)
        LANGUAGE plpgsql AS $$
        DECLARE
            failed int[];
            appended int;
            inserted int;
            l_ord int[];
            l_row tid[];
            l_version bigint[];
            l_tombstone bool[];
            n_ord int[];
            n_type text[];
            n_key text[];
            n_name text[];
            n_data jsonb[];
            i_type text[];
            i_key text[];
            i_name text[];
        BEGIN
            -- Lock order, part 1: the rows that exist, in key order, each by its primary key (a lateral subquery runs once
            -- per outer row, in the outer order). A row another transaction updated meanwhile is locked in its newest
            -- version, whose address is the one returned.
            SELECT coalesce(array_agg(k.ord), '{}'), coalesce(array_agg(l.row_id), '{}'),
                   coalesce(array_agg(l.version), '{}'), coalesce(array_agg(l.tombstone), '{}')
            INTO l_ord, l_row, l_version, l_tombstone
            FROM (SELECT u.ord, u.t, u.k, u.n FROM unnest(s_ord, s_type, s_key, s_name) AS u(ord, t, k, n) ORDER BY u.t, u.k, u.n, u.ord) k
            CROSS JOIN LATERAL (
                SELECT s.ctid AS row_id, s.version, s.data IS NULL AS tombstone FROM orch_grain_state s
                WHERE s.grain_type = k.t AND s.grain_key = k.k AND s.state_name = k.n
                FOR UPDATE) l;

            -- StateWriteRules.Decide, against the locked versions: the writer must hold the visible version (0 for no
            -- row or a tombstone); a write stores counter + 1, a delete of a live row leaves a tombstone at counter + 1,
            -- a delete of nothing succeeds without a change. Decisions use the locked snapshot only, so a row another
            -- batch inserts meanwhile is never updated unlocked: the insert below finds it and that write conflicts.
            -- The writes of new rows come back as arrays (one per key even if a caller sent the same key twice).
            WITH input AS (
                SELECT * FROM unnest(s_ord, s_type, s_key, s_name, s_data, s_expected, s_delete)
                    AS i(ord, grain_type, grain_key, state_name, data, expected, is_delete)),
            locked AS (
                SELECT * FROM unnest(l_ord, l_row, l_version, l_tombstone) AS c(ord, row_id, version, tombstone)),
            allowed AS (
                SELECT i.*, c.row_id, c.version AS stored_version, coalesce(c.tombstone, false) AS tombstone
                FROM input i LEFT JOIN locked c ON c.ord = i.ord
                WHERE i.expected = CASE WHEN c.version IS NULL OR c.tombstone THEN 0 ELSE c.version END),
            updated AS (
                UPDATE orch_grain_state s
                SET data = CASE WHEN a.is_delete THEN NULL ELSE a.data END, version = a.stored_version + 1, updated_at = now()
                FROM allowed a
                WHERE a.stored_version IS NOT NULL AND NOT (a.is_delete AND a.tombstone)
                  AND s.ctid = a.row_id AND s.version = a.stored_version
                RETURNING a.ord, CASE WHEN a.is_delete THEN 0 ELSE s.version END AS version),
            stored AS (
                SELECT u.ord, u.version FROM updated u
                UNION ALL
                SELECT a.ord, 0 FROM allowed a WHERE a.is_delete AND (a.stored_version IS NULL OR a.tombstone)),
            fresh AS (
                SELECT DISTINCT ON (a.grain_type, a.grain_key, a.state_name) a.ord, a.grain_type, a.grain_key, a.state_name, a.data
                FROM allowed a WHERE a.stored_version IS NULL AND NOT a.is_delete
                ORDER BY a.grain_type, a.grain_key, a.state_name, a.ord)
            SELECT s.ords, s.versions, f.ords, f.types, f.keys, f.names, f.datas
            INTO stored_ords, stored_versions, n_ord, n_type, n_key, n_name, n_data
            FROM (SELECT coalesce(array_agg(ord), '{}') AS ords, coalesce(array_agg(version), '{}') AS versions FROM stored) s,
                 (SELECT coalesce(array_agg(ord), '{}') AS ords, coalesce(array_agg(grain_type), '{}') AS types,
                         coalesce(array_agg(grain_key), '{}') AS keys, coalesce(array_agg(state_name), '{}') AS names,
                         coalesce(array_agg(data), '{}') AS datas FROM fresh) f;

            -- Lock order, part 2: new rows in key order. When all of them are inserted (unless another transaction
            -- inserted one of the keys since the lock step) their ordinals are known without matching keys back.
            IF cardinality(n_ord) > 0 THEN
                WITH ins AS (
                    INSERT INTO orch_grain_state AS s (grain_type, grain_key, state_name, data, version)
                    SELECT n.grain_type, n.grain_key, n.state_name, n.data, 1
                    FROM unnest(n_type, n_key, n_name, n_data) AS n(grain_type, grain_key, state_name, data)
                    ORDER BY n.grain_type, n.grain_key, n.state_name
                    ON CONFLICT DO NOTHING
                    RETURNING s.grain_type, s.grain_key, s.state_name)
                SELECT count(*), coalesce(array_agg(grain_type), '{}'), coalesce(array_agg(grain_key), '{}'), coalesce(array_agg(state_name), '{}')
                INTO inserted, i_type, i_key, i_name FROM ins;
                IF inserted = cardinality(n_ord) THEN
                    stored_ords := stored_ords || n_ord;
                    stored_versions := stored_versions || array_fill(1::bigint, ARRAY[inserted]);
                ELSE
                    SELECT stored_ords || coalesce(array_agg(n.ord), '{}'), stored_versions || coalesce(array_agg(1::bigint), '{}')
                    INTO stored_ords, stored_versions
                    FROM unnest(n_ord, n_type, n_key, n_name) AS n(ord, grain_type, grain_key, state_name)
                    WHERE (n.grain_type, n.grain_key, n.state_name) IN (SELECT * FROM unnest(i_type, i_key, i_name));
                END IF;
            END IF;

            -- Usually nothing conflicts; only then is the quadratic search for the losers worth it.
            IF cardinality(stored_ords) = cardinality(s_ord) THEN
                failed := '{}';
            ELSE
                failed := ARRAY(SELECT o FROM unnest(s_ord) AS o WHERE o <> ALL (stored_ords));
            END IF;

            -- Projection changes of the writes that stored (a null document removes); in batch order, so the last change
            -- of a row wins. Lock order as for state: the rows that exist first, by key, in key order, then new rows
            -- inserted in key order, so concurrent commits cannot deadlock here either. A batch without projections skips it.
            IF cardinality(p_ord) > 0 THEN
                PERFORM 1
                FROM (SELECT DISTINCT u.t COLLATE "C" AS t, u.c COLLATE "C" AS c, u.i COLLATE "C" AS i
                      FROM unnest(p_tenant, p_collection, p_id) AS u(t, c, i) ORDER BY 1, 2, 3) k
                CROSS JOIN LATERAL (
                    SELECT 1 FROM orch_projections p WHERE p.tenant = k.t AND p.collection = k.c AND p.id = k.i
                    FOR UPDATE) l;

                WITH latest AS (
                    SELECT DISTINCT ON (c.tenant, c.collection, c.id) c.*
                    FROM unnest(p_ord, p_collection, p_tenant, p_id, p_status, p_owner, p_grp, p_document) WITH ORDINALITY
                        AS c(ord, collection, tenant, id, status, owner, grp, document, idx)
                    WHERE c.ord <> ALL (failed)
                    ORDER BY c.tenant, c.collection, c.id, c.idx DESC),
                removed AS (
                    DELETE FROM orch_projections p USING latest l
                    WHERE l.document IS NULL AND p.tenant = l.tenant AND p.collection = l.collection AND p.id = l.id)
                INSERT INTO orch_projections AS p (tenant, collection, id, status, owner, grp, document, updated_at)
                SELECT l.tenant, l.collection, l.id, l.status, l.owner, l.grp, l.document, now()
                FROM latest l WHERE l.document IS NOT NULL
                ORDER BY l.tenant COLLATE "C", l.collection COLLATE "C", l.id COLLATE "C"
                ON CONFLICT (tenant, collection, id) DO UPDATE
                SET status = excluded.status, owner = excluded.owner, grp = excluded.grp, document = excluded.document, updated_at = excluded.updated_at;
            END IF;

            IF cardinality(r_ord) > 0 THEN
                PERFORM orch_apply_reminders(s_ord, stored_ords, r_ord, r_type, r_key, r_name, r_due, r_period);
            END IF;

            -- Last: events of the writes that stored, numbered in array order under a lock held until commit. It
            -- serialises committing transactions from here to the end of their commit, so nothing else is done under it.
            IF cardinality(failed) = 0 THEN
                IF cardinality(e_ord) > 0 THEN
                    PERFORM pg_advisory_xact_lock(event_lock);
                    SELECT coalesce(max(sequence), 0) + 1 INTO first_sequence FROM orch_events;
                    INSERT INTO orch_events (sequence, stream_namespace, stream_key, tenant, event_type, occurred_at, data)
                    SELECT first_sequence - 1 + e.idx, e.ns, e.key, e.tenant, e.type, e.at, e.data
                    FROM unnest(e_ns, e_key, e_tenant, e_type, e_at, e_data) WITH ORDINALITY AS e(ns, key, tenant, type, at, data, idx);
                    PERFORM pg_notify(event_channel, (first_sequence + cardinality(e_ord) - 1)::text);
                END IF;
            ELSIF EXISTS (SELECT 1 FROM unnest(e_ord) AS o WHERE o <> ALL (failed)) THEN
                PERFORM pg_advisory_xact_lock(event_lock);
                SELECT coalesce(max(sequence), 0) + 1 INTO first_sequence FROM orch_events;
                INSERT INTO orch_events (sequence, stream_namespace, stream_key, tenant, event_type, occurred_at, data)
                SELECT first_sequence - 1 + row_number() OVER (ORDER BY e.idx), e.ns, e.key, e.tenant, e.type, e.at, e.data
                FROM unnest(e_ord, e_ns, e_key, e_tenant, e_type, e_at, e_data) WITH ORDINALITY AS e(ord, ns, key, tenant, type, at, data, idx)
                WHERE e.ord <> ALL (failed);
                GET DIAGNOSTICS appended = ROW_COUNT;
                PERFORM pg_notify(event_channel, (first_sequence + appended - 1)::text);
            END IF;
        END
        $$;
        """;

    /// <summary>
    /// Migration 8: state and projection documents become <c>json</c>, like event payloads since migration 1. Measured
    /// on a 462-byte task document: 5.0 µs to store as <c>jsonb</c> against 1.8 µs as <c>json</c>, 6.7 against 2.3 µs to
    /// read back as text; a task transition stores two documents and a list reads one per row. The casts both ways are
    /// assignment casts, so the V4 overload keeps working for silos of the previous release once the migration is done
    /// (and after a rollback). While it runs it rewrites both tables and their indexes under an exclusive lock: every
    /// read and commit, of either release, waits for it (seconds per million rows).
    /// </summary>
    private const string JsonDocumentsSql = """
        ALTER TABLE orch_grain_state ALTER COLUMN data TYPE json;
        ALTER TABLE orch_projections ALTER COLUMN document TYPE json;

        """;

    /// <summary>
    /// Migration 8: <see cref="CommitFunctionV4Sql"/> with <c>json</c> documents, as an overload: the same rules, lock
    /// order and results. Derived from V4's text, which is released and never changes, so the two cannot drift.
    /// </summary>
    private static string CommitFunctionV5Sql => CommitFunctionV4Sql.Replace("jsonb", "json", StringComparison.Ordinal);

    /// <summary>
    /// Migration 9, first part: <see cref="ApplyRemindersPlpgsqlSql"/>'s rules and results with every reminder row locked
    /// in key order. Before, the deletes ran before the upserts (a statement's own part runs before its CTEs'), so a
    /// batch locked a deleted row before rows ahead of it, the deadlock <see cref="CommitFunctionV6Sql"/> describes for
    /// projections. Now one upsert in key order takes every row's lock; a removal goes through it marked by a
    /// <c>first_due_at</c> of <c>-infinity</c> and is deleted right after, so the mark is never committed. Derived from
    /// the released text, so which changes count (each reminder's last, of the writes that stored) is written once.
    /// </summary>
    private static string ApplyRemindersInKeyOrderSql => ReplaceBetween(
        ApplyRemindersPlpgsqlSql,
        "DESC),\n    upserted AS (",
        "END\n$$;",
        """
        DESC)
            INSERT INTO orch_reminders AS r (grain_type, grain_key, reminder_name, first_due_at, period)
            SELECT l.type, l.key, l.name, coalesce(l.due, '-infinity'), coalesce(l.period, '0') FROM latest l
            ORDER BY l.type, l.key, l.name
            ON CONFLICT (grain_type, grain_key, reminder_name) DO UPDATE SET first_due_at = excluded.first_due_at, period = excluded.period;

            IF EXISTS (SELECT 1 FROM unnest(r_due) AS d(due) WHERE d.due IS NULL) THEN
                DELETE FROM orch_reminders r USING unnest(r_type, r_key, r_name) AS u(type, key, name)
                WHERE r.grain_type = u.type AND r.grain_key = u.key AND r.reminder_name = u.name AND r.first_due_at = '-infinity';
            END IF;

        """);

    /// <summary>
    /// Migration 9: <see cref="CommitFunctionV5Sql"/> with every projection row locked in one key order, replacing it
    /// (same signature, rules and results, so silos of the previous release get the fix too). V5 locked the rows that
    /// existed, then upserted in key order, so a row that a third commit inserted in between was locked after rows
    /// behind it: T1 locks b; T3 inserts a and commits; T2 locks a, then waits for b; T1's upsert of a waits for T2.
    /// Now one upsert in key order takes each row's lock as it reaches it, new or existing. A removal goes through the
    /// upsert too, marked by an <c>updated_at</c> of <c>-infinity</c>, and is deleted right after under the lock it
    /// took there; no commit ever leaves the mark behind.
    /// </summary>
    private static string CommitFunctionV6Sql => ReplaceBetween(
        CommitFunctionV5Sql.Replace("CREATE FUNCTION orch_commit(", "CREATE OR REPLACE FUNCTION orch_commit(", StringComparison.Ordinal),
        "    -- Projection changes of the writes that stored",
        "    IF cardinality(r_ord) > 0 THEN",
        """
            -- Projection changes of the writes that stored (a null document removes); in batch order, so the last change
            -- of a row wins. One upsert in key order locks every row of the batch, existing or new, as it reaches it, so
            -- concurrent commits take these locks in one order and cannot deadlock here. A batch without projections
            -- skips it all.
            IF cardinality(p_ord) > 0 THEN
                WITH latest AS (
                    SELECT DISTINCT ON (c.tenant, c.collection, c.id) c.*
                    FROM unnest(p_ord, p_collection, p_tenant, p_id, p_status, p_owner, p_grp, p_document) WITH ORDINALITY
                        AS c(ord, collection, tenant, id, status, owner, grp, document, idx)
                    WHERE c.ord <> ALL (failed)
                    ORDER BY c.tenant, c.collection, c.id, c.idx DESC)
                INSERT INTO orch_projections AS p (tenant, collection, id, status, owner, grp, document, updated_at)
                SELECT l.tenant, l.collection, l.id, l.status, l.owner, l.grp, coalesce(l.document, '{}'),
                       CASE WHEN l.document IS NULL THEN '-infinity' ELSE now() END
                FROM latest l
                ORDER BY l.tenant COLLATE "C", l.collection COLLATE "C", l.id COLLATE "C"
                ON CONFLICT (tenant, collection, id) DO UPDATE
                SET status = excluded.status, owner = excluded.owner, grp = excluded.grp, document = excluded.document, updated_at = excluded.updated_at;

                IF EXISTS (SELECT 1 FROM unnest(p_document) AS d(document) WHERE d.document IS NULL) THEN
                    DELETE FROM orch_projections p USING unnest(p_tenant, p_collection, p_id) AS u(tenant, collection, id)
                    WHERE p.tenant = u.tenant AND p.collection = u.collection AND p.id = u.id AND p.updated_at = '-infinity';
                END IF;
            END IF;


        """);

    /// <summary>The text between two markers (the first's line included, the second's excluded) replaced; both must be there.</summary>
    private static string ReplaceBetween(string text, string from, string to, string replacement)
    {
        var start = text.IndexOf(from, StringComparison.Ordinal);
        var end = start < 0 ? -1 : text.IndexOf(to, start, StringComparison.Ordinal);
        if (start < 0 || end < 0)
        {
            throw new InvalidOperationException($"Migration text changed: '{from}' … '{to}' not found.");
        }

        return string.Concat(text.AsSpan(0, start), replacement, text.AsSpan(end));
    }

    // Parameters in PostgresCommitBatch's order: state ($1-$7), events ($8-$14), reminders ($15-$20), projections
    // ($21-$28), then the lock and channel, then the fences ($31-$32). orch_fence is an argument of orch_commit, so it runs
    // (and holds its lock) before anything is written.
    private const string CommitSql = """
        SELECT c.stored_ords, c.stored_versions, c.first_sequence
        FROM orch_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $21, $22, $23, $24, $25, $26, $27, $28,
                         $15, $16, $17, $18, $19, $20, orch_fence($31, $32, $29), $30) AS c
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgresCommitConnections _commits;
    private readonly PostgresStateReads _reads;
    private readonly string _connectionString;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    public PostgresGrainStorage(string connectionString, TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        _connectionString = connectionString;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _dataSource = PostgresReadPool.Build(connectionString);
        _reads = new PostgresStateReads(_dataSource);
        _commits = new PostgresCommitConnections(connectionString, MaxConcurrentCommits, CommitSql, BindWarmUp, _logger);
    }

    public string ProviderName => "Postgres";

    /// <summary>Two: one batch commits while the next one writes its rows.</summary>
    public int MaxConcurrentCommits => 2;

    public Task InitializeAsync(CancellationToken cancellationToken) => InitializeAsync(Migrations.Count, cancellationToken);

    /// <summary>Migrates only up to <paramref name="migrationCount"/> steps: tests build the schema of an older release.</summary>
    internal async Task InitializeAsync(int migrationCount, CancellationToken cancellationToken)
    {
        await MigrateAsync(migrationCount, cancellationToken);
        if (migrationCount == Migrations.Count)
        {
            // Both statements are prepared against the newest schema; an older one (a migration test) has no use for them.
            // Start-up pays for the backends' cold start, so the first activations and commits find them warm.
            await Task.WhenAll(
                _commits.OpenAsync(cancellationToken),
                PostgresReadPool.WarmAsync(_dataSource, PostgresStateReads.Concurrency, PostgresStateReads.Sql, WarmUpRead, cancellationToken));
        }
    }

    /// <summary>
    /// How long a migration waits for a table lock before it rolls back and tries again. A step's DDL takes strong locks
    /// (<c>ALTER TABLE</c> an exclusive one), and a lock request queued behind a long transaction holds up every later
    /// query of that table, of every silo of every release, for as long as it waits: during a rolling upgrade the running
    /// release would stall behind the new one's start-up. Waiting briefly and retrying bounds that stall.
    /// </summary>
    internal TimeSpan MigrationLockTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The pause after an attempt that could not take its locks; doubled after each try up to 30 s, with jitter.</summary>
    internal TimeSpan MigrationRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan s_maxMigrationRetryDelay = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Migrates, retrying until start-up is cancelled (the host's start-up timeout, none by default) while another
    /// transaction holds a lock a step needs, a step deadlocks with one, or another process is migrating.
    /// </summary>
    private async Task MigrateAsync(int migrationCount, CancellationToken cancellationToken)
    {
        if (await AppliedMigrationsAsync(cancellationToken) >= migrationCount)
        {
            return; // steps are only ever added, so no lock is needed to see that none is pending
        }

        for (var delay = MigrationRetryDelay; ; delay = delay * 2 < s_maxMigrationRetryDelay ? delay * 2 : s_maxMigrationRetryDelay)
        {
            try
            {
                if (await TryMigrateOnceAsync(migrationCount, cancellationToken))
                {
                    return;
                }

                LogMigrationBusy(_logger, delay.TotalSeconds);
            }
            catch (PostgresException locked) when (locked.SqlState is PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.DeadlockDetected)
            {
                LogMigrationLockTimeout(_logger, migrationCount, MigrationLockTimeout.TotalSeconds, delay.TotalSeconds, locked);
            }

            // Jittered, so silos that gave up together do not come back together. Real time: this is start-up's own
            // pause, and a silo on a test clock must still start.
            await Task.Delay(delay * (0.5 + Random.Shared.NextDouble()), cancellationToken);
        }
    }

    /// <summary>
    /// All pending steps in one transaction (a database is at one release or the next, never between); false when
    /// another process holds the migration lock.
    /// </summary>
    private async Task<bool> TryMigrateOnceAsync(int migrationCount, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Not waited for: silos queued on it would each request their table locks the moment the one before gave up,
        // back to back, and the tables would never be free. Another process migrating is a pause like a lock timeout.
        await using (var migrationLock = new NpgsqlCommand($"SELECT pg_try_advisory_xact_lock({MigrationLockKey})", connection))
        {
            if (!(bool)(await migrationLock.ExecuteScalarAsync(cancellationToken))!)
            {
                return false;
            }
        }

        // At least 1 ms: 0 would mean no limit.
        await ExecuteAsync(connection, $"SET LOCAL lock_timeout = {Math.Max(1, (long)MigrationLockTimeout.TotalMilliseconds)}", cancellationToken);
        await ExecuteAsync(connection, "CREATE TABLE IF NOT EXISTS orch_schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())", cancellationToken);
        await using var current = new NpgsqlCommand(AppliedMigrationsSql, connection);
        var applied = (int)(await current.ExecuteScalarAsync(cancellationToken))!;
        if (applied < migrationCount)
        {
            await ExecuteAsync(connection, LockEveryTableSql, cancellationToken);
        }

        for (var version = applied + 1; version <= migrationCount; version++)
        {
            await ExecuteAsync(connection, Migrations[version - 1], cancellationToken);
            await using var record = new NpgsqlCommand("INSERT INTO orch_schema_migrations (version) VALUES ($1)", connection);
            record.Parameters.Add(new NpgsqlParameter { Value = version });
            await record.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    private const string AppliedMigrationsSql = "SELECT coalesce(max(version), 0) FROM orch_schema_migrations";

    /// <summary>The steps this database has run (0 for a new one), read without the migration lock.</summary>
    private async Task<int> AppliedMigrationsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var exists = new NpgsqlCommand("SELECT to_regclass('orch_schema_migrations') IS NOT NULL", connection);
        if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken))!)
        {
            return 0;
        }

        await using var applied = new NpgsqlCommand(AppliedMigrationsSql, connection);
        return (int)(await applied.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Before any pending step runs, every table of the schema, in one statement: in name order, as commits take them
    /// (state, projections, reminders), with the event log last, as commits append to it last, so a commit holding one
    /// of them is never waited for by a migration holding the next. A step's DDL takes its locks one at a time, holding
    /// each (and a table it already rewrote) while it waits for the next, so an attempt that timed out would have stalled
    /// those tables and thrown its work away; now it stalls them for at most one lock wait and has done nothing. The
    /// price: while steps run, the whole schema waits, not only the tables they alter. Except the cluster's membership
    /// and partition leases: a lease renewal stuck behind a migration for longer than a lease lasts would end every
    /// silo's partitions at once. (A step that alters them takes their locks itself, after every other table's.)
    /// </summary>
    private const string LockEveryTableSql = """
        DO $$
        DECLARE
            tables text;
        BEGIN
            SELECT string_agg(format('%I', c.relname), ', ' ORDER BY c.relname = 'orch_events', c.relname) INTO tables
            FROM pg_class c
            WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND c.relname LIKE 'orch\_%'
                AND c.relname NOT IN ('orch_silos', 'orch_partitions', 'orch_membership_version');
            IF tables IS NOT NULL THEN
                EXECUTE 'LOCK TABLE ' || tables || ' IN ACCESS EXCLUSIVE MODE';
            END IF;
        END
        $$;
        """;

    [LoggerMessage(Level = LogLevel.Warning, Message = "A schema migration (up to step {MigrationCount}) could not take a lock within {LockTimeoutSeconds} s, or deadlocked with another transaction; rolled back, trying again in about {RetrySeconds} s")]
    private static partial void LogMigrationLockTimeout(ILogger logger, int migrationCount, double lockTimeoutSeconds, double retrySeconds, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Another process holds the schema migration lock; trying again in about {RetrySeconds} s")]
    private static partial void LogMigrationBusy(ILogger logger, double retrySeconds);

    public Task<GrainStateRecord?> ReadStateAsync(GrainStateKey key, CancellationToken cancellationToken) => _reads.ReadAsync(key, cancellationToken);

    /// <summary>A read of no keys: prepares the state read and caches its catalogs without touching a row.</summary>
    private static void WarmUpRead(NpgsqlParameterCollection parameters) => PostgresStateReads.Bind(parameters, []);

    public async Task CommitAsync(IReadOnlyList<StorageWrite> writes, CancellationToken cancellationToken)
    {
        while (true)
        {
            var batch = new PostgresCommitBatch(writes);
            try
            {
                await CommitBatchAsync(batch, cancellationToken);
                return;
            }
            catch (PostgresException stale) when (stale.SqlState == StaleEpochSqlState)
            {
                // Nothing of the batch was stored. Rare (only around a change of owner): commit the rest again without
                // the writes whose partition moved on; the loop ends, since every round removes at least one write.
                writes = batch.WithoutStale(stale.MessageText);
                if (writes.Count == 0)
                {
                    return;
                }
            }
        }
    }

    private async Task CommitBatchAsync(PostgresCommitBatch batch, CancellationToken cancellationToken)
    {
        await _commits.ExecuteAsync(
            parameters => BindCommit(parameters, batch),
            reader =>
            {
                var storedOrdinals = reader.GetFieldValue<int[]>(0);
                var storedVersions = reader.GetFieldValue<long[]>(1);
                var firstSequence = reader.IsDBNull(2) ? 0 : reader.GetInt64(2);
                batch.ApplyResults(storedOrdinals, storedVersions, firstSequence);
            },
            cancellationToken);
    }

    /// <summary>The open commit connections' backend ids (tests terminate them).</summary>
    internal IReadOnlyList<int> CommitBackendProcessIds => _commits.BackendProcessIds;

    /// <summary>Whether the commit statement is still prepared on every commit connection (tests).</summary>
    internal bool CommitStatementsPrepared => _commits.AllPrepared;

    /// <summary>The pool of everything but commits (for tests).</summary>
    internal NpgsqlDataSource ReadPool => _dataSource;

    private static void BindCommit(NpgsqlParameterCollection parameters, PostgresCommitBatch batch)
    {
        batch.AddParameters(parameters);
        parameters.Add(new NpgsqlParameter { Value = EventAppendLockKey });
        parameters.Add(new NpgsqlParameter { Value = EventChannel });
        batch.AddFenceParameters(parameters);
    }

    /// <summary>
    /// A commit that takes every path of the commit statement (a new row, a version conflict, an event, a reminder);
    /// it runs only inside a transaction that is rolled back, so its key never meets a real grain's.
    /// </summary>
    private void BindWarmUp(NpgsqlParameterCollection parameters)
    {
        var now = _timeProvider.GetUtcNow();
        var grain = new GrainId("orchestration.warmup", Guid.NewGuid().ToString("N"));
        var stream = new StreamId("orchestration.warmup", grain.Key);
        EventDraft[] events = [new EventDraft(stream, "warmup", now, "{}")];
        BindCommit(parameters, new PostgresCommitBatch(
        [
            StorageWrite.State(new GrainStateKey(grain.Type, grain.Key, "new"), "{}", expectedVersion: 0, events,
                [ProjectionChange.Set(new ProjectionRow("warmup", grain.Key, "row", "{}")), ProjectionChange.Remove("warmup", grain.Key, "gone")]),
            StorageWrite.State(new GrainStateKey(grain.Type, grain.Key, "stale"), "{}", expectedVersion: 1, events),
            StorageWrite.EventsOnly(events),
            StorageWrite.ReminderOnly(new ReminderChange(grain, "warmup", new ReminderEntry(grain, "warmup", now, TimeSpan.FromMinutes(1)))),
        ]));
    }

    public async Task<IReadOnlyList<StreamEvent>> ReadEventsAsync(long afterSequence, int limit, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            "SELECT sequence, stream_namespace, stream_key, event_type, occurred_at, data::text FROM orch_events WHERE sequence > $1 ORDER BY sequence LIMIT $2");
        command.Parameters.Add(new NpgsqlParameter { Value = afterSequence });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await ReadEventsAsync(reader, cancellationToken);
    }

    public Task<IReadOnlyList<StreamEvent>> ReadTenantEventsAsync(string tenant, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        var query = new NpgsqlBatchCommand(
            "SELECT sequence, stream_namespace, stream_key, event_type, occurred_at, data::text FROM orch_events WHERE tenant = $1 AND sequence > $2 ORDER BY sequence LIMIT $3");
        query.Parameters.Add(new NpgsqlParameter { Value = tenant });
        query.Parameters.Add(new NpgsqlParameter { Value = afterSequence });
        query.Parameters.Add(new NpgsqlParameter { Value = limit });
        return ReadAsTenantAsync(tenant, query, ReadEventsAsync, cancellationToken);
    }

    private static async Task<IReadOnlyList<StreamEvent>> ReadEventsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
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

    public async Task<ProjectionPage> QueryProjectionsAsync(ProjectionQuery query, CancellationToken cancellationToken)
    {
        var cursor = ProjectionCursor.Parse(query);
        var command = new NpgsqlBatchCommand();
        var sql = new System.Text.StringBuilder("SELECT tenant, collection, id, status, owner, grp, ")
            .Append(query.IncludeDocuments ? "document::text" : "''").Append(" FROM orch_projections WHERE collection = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = query.Collection });
        // Only the filters that are set, so each shape gets a plan that uses its index.
        Filter("tenant", query.Tenant);
        Filter("status", query.Status);
        Filter("owner", query.Owner);
        Filter("grp", query.Group);
        if (cursor is { } after)
        {
            sql.Append(after.Tenant is null ? " AND id > $" + Next() : $" AND (id, tenant) > (${Next()}, ${Next() + 1})");
            command.Parameters.Add(new NpgsqlParameter { Value = after.Id });
            if (after.Tenant is { } afterTenant)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = afterTenant });
            }
        }

        sql.Append(" ORDER BY id, tenant LIMIT $").Append(Next());
        command.Parameters.Add(new NpgsqlParameter { Value = query.Limit + 1 });
        command.CommandText = sql.ToString();
        var rows = query.Tenant is { } tenant
            ? await ReadAsTenantAsync(tenant, command, ReadProjectionsAsync, cancellationToken)
            : await ReadAsOwnerAsync(command, ReadProjectionsAsync, cancellationToken);
        return ProjectionCursor.Page(rows, query);

        int Next() => command.Parameters.Count + 1;

        void Filter(string column, string? value)
        {
            if (value is not null)
            {
                sql.Append(" AND ").Append(column).Append(" = $").Append(Next());
                command.Parameters.Add(new NpgsqlParameter { Value = value });
            }
        }
    }

    public async Task<ProjectionRow?> ReadProjectionAsync(string collection, string tenant, string id, CancellationToken cancellationToken)
    {
        var command = new NpgsqlBatchCommand(
            "SELECT tenant, collection, id, status, owner, grp, document::text FROM orch_projections WHERE tenant = $1 AND collection = $2 AND id = $3");
        command.Parameters.Add(new NpgsqlParameter { Value = tenant });
        command.Parameters.Add(new NpgsqlParameter { Value = collection });
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        var rows = await ReadAsTenantAsync(tenant, command, ReadProjectionsAsync, cancellationToken);
        return rows.Count > 0 ? rows[0] : null;
    }

    private static async Task<List<ProjectionRow>> ReadProjectionsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var rows = new List<ProjectionRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new ProjectionRow(reader.GetString(1), reader.GetString(0), reader.GetString(2), reader.GetString(6))
            {
                Status = reader.IsDBNull(3) ? null : reader.GetString(3),
                Owner = reader.IsDBNull(4) ? null : reader.GetString(4),
                Group = reader.IsDBNull(5) ? null : reader.GetString(5),
            });
        }

        return rows;
    }

    /// <summary>
    /// Runs a read for one tenant behind row-level security as well as its own WHERE clause: in one transaction, bound
    /// to the tenant (<c>app.current_org</c>) and as <c>orch_tenant_reader</c>, whose policies show only that tenant's
    /// rows. Both settings are transaction-local, so the pooled connection goes back as it came. One round trip for the
    /// settings and the read, one for the commit.
    /// </summary>
    private async Task<T> ReadAsTenantAsync<T>(
        string tenant, NpgsqlBatchCommand query, Func<NpgsqlDataReader, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var bind = new NpgsqlBatchCommand("SELECT set_config('app.current_org', $1, true)");
        bind.Parameters.Add(new NpgsqlParameter { Value = tenant });
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands = { bind, new NpgsqlBatchCommand("SET LOCAL ROLE orch_tenant_reader"), query },
        };
        T result;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            await reader.NextResultAsync(cancellationToken); // past set_config's row (SET returns no result set)
            result = await read(reader, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    /// <summary>A read of every tenant (platform operations), as the table owner.</summary>
    private async Task<T> ReadAsOwnerAsync<T>(NpgsqlBatchCommand query, Func<NpgsqlDataReader, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection) { BatchCommands = { query } };
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        return await read(reader, cancellationToken);
    }

    public async Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("SELECT coalesce(max(sequence), 0) FROM orch_events");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<IReadOnlyList<ReminderEntry>> ReadRemindersAsync(DateTimeOffset? dueBy, CancellationToken cancellationToken)
    {
        const string Columns = "SELECT grain_type, grain_key, reminder_name, first_due_at, period FROM orch_reminders";
        // Two branches, each served by its partial index (migration 10).
        await using var command = _dataSource.CreateCommand(dueBy is null
            ? Columns
            : $"{Columns} WHERE period > interval '0' UNION ALL {Columns} WHERE period = interval '0' AND first_due_at <= $1");
        if (dueBy is { } by)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = by });
        }

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

    public IAsyncDisposable WatchCommits(Action<long> onCommit) => new PostgresNotificationListener(_connectionString, EventChannel, onCommit, _timeProvider, _logger);

    public async ValueTask DisposeAsync()
    {
        await _reads.DisposeAsync();
        await _commits.DisposeAsync();
        await _dataSource.DisposeAsync();
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
