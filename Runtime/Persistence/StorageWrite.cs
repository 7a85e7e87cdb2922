using Orchestration.Runtime.Clustering;

namespace Orchestration.Runtime.Persistence;

/// <summary>
/// What one turn commits: optionally a state write or delete (checked against <see cref="ExpectedVersion"/>), plus the
/// events, projection changes and reminder changes that go with it. All of it commits, or (on a version conflict) none
/// of it does.
/// </summary>
internal sealed class StorageWrite
{
    private StorageWrite(
        GrainStateKey? stateKey, string? data, bool delete, long expectedVersion, IReadOnlyList<EventDraft> events,
        IReadOnlyList<ProjectionChange>? projections, IReadOnlyList<ReminderChange> reminders)
    {
        StateKey = stateKey;
        Data = data;
        IsDelete = delete;
        ExpectedVersion = expectedVersion;
        Events = events;
        Projections = projections ?? [];
        Reminders = reminders;
    }

    public GrainStateKey? StateKey { get; }

    /// <summary>The new state's JSON; null for a delete or a write without state.</summary>
    public string? Data { get; }

    public bool IsDelete { get; }

    /// <summary>The version the writer read; 0 when it found no record.</summary>
    public long ExpectedVersion { get; }

    public IReadOnlyList<EventDraft> Events { get; }

    /// <summary>Applied in order: the last change of one row (collection, tenant, id) wins, in a write and across a batch.</summary>
    public IReadOnlyList<ProjectionChange> Projections { get; }

    /// <summary>Applied in order, after the state check: on a conflict none is stored.</summary>
    public IReadOnlyList<ReminderChange> Reminders { get; }

    /// <summary>Set by the provider: the stored version after the commit (0 after a delete).</summary>
    public long NewVersion { get; set; }

    /// <summary>Set by the provider: the version check failed, so nothing of this write was stored.</summary>
    public bool Conflict { get; set; }

    /// <summary>
    /// The lease period of the writer's partition, in a cluster: the write commits only while the database still holds
    /// that epoch for the partition (see <c>orch_fence</c>). Null outside a cluster, and for writes of no grain.
    /// </summary>
    public WriteFence? Fence { get; set; }

    /// <summary>Set by the provider: the partition's epoch had moved on, so nothing of this write was stored.</summary>
    public bool Fenced { get; set; }

    /// <summary>Set by the provider: the sequence of the first event; the others follow contiguously.</summary>
    public long FirstSequence { get; set; }

    public static StorageWrite State(
        GrainStateKey key, string data, long expectedVersion, IReadOnlyList<EventDraft> events, IReadOnlyList<ProjectionChange>? projections = null,
        IReadOnlyList<ReminderChange>? reminders = null) =>
        new(key, data, delete: false, expectedVersion, events, projections, reminders ?? []);

    public static StorageWrite Delete(
        GrainStateKey key, long expectedVersion, IReadOnlyList<EventDraft> events, IReadOnlyList<ProjectionChange>? projections = null,
        IReadOnlyList<ReminderChange>? reminders = null) =>
        new(key, null, delete: true, expectedVersion, events, projections, reminders ?? []);

    public static StorageWrite EventsOnly(IReadOnlyList<EventDraft> events) => new(null, null, delete: false, 0, events, null, []);

    public static StorageWrite ReminderOnly(ReminderChange change) => new(null, null, delete: false, 0, [], null, [change]);

    /// <summary>What a call's outbox held: its events, projection changes and reminder changes, committed with no state.</summary>
    public static StorageWrite OutboxOnly(CallOutbox outbox) =>
        new(null, null, delete: false, 0, outbox.Events, outbox.Projections, outbox.Reminders);
}

/// <summary>The grain a write is for and the lease period its activation was created in.</summary>
internal sealed record WriteFence(GrainId Grain, PartitionLease Lease);
