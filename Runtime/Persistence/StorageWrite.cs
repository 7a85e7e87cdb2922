namespace Orchestration.Runtime.Persistence;

/// <summary>
/// What one turn commits: optionally a state write or delete (checked against <see cref="ExpectedVersion"/>), plus the
/// events and reminder changes that go with it. All of it commits, or (on a version conflict) none of it does.
/// </summary>
internal sealed class StorageWrite
{
    private StorageWrite(GrainStateKey? stateKey, string? data, bool delete, long expectedVersion, IReadOnlyList<EventDraft> events, IReadOnlyList<ReminderChange> reminders)
    {
        StateKey = stateKey;
        Data = data;
        IsDelete = delete;
        ExpectedVersion = expectedVersion;
        Events = events;
        Reminders = reminders;
    }

    public GrainStateKey? StateKey { get; }

    /// <summary>The new state's JSON; null for a delete or a write without state.</summary>
    public string? Data { get; }

    public bool IsDelete { get; }

    /// <summary>The version the writer read; 0 when it found no record.</summary>
    public long ExpectedVersion { get; }

    public IReadOnlyList<EventDraft> Events { get; }

    public IReadOnlyList<ReminderChange> Reminders { get; }

    /// <summary>Set by the provider: the stored version after the commit (0 after a delete).</summary>
    public long NewVersion { get; set; }

    /// <summary>Set by the provider: the version check failed, so nothing of this write was stored.</summary>
    public bool Conflict { get; set; }

    /// <summary>Set by the provider: the sequence of the first event; the others follow contiguously.</summary>
    public long FirstSequence { get; set; }

    public static StorageWrite State(GrainStateKey key, string data, long expectedVersion, IReadOnlyList<EventDraft> events) =>
        new(key, data, delete: false, expectedVersion, events, []);

    public static StorageWrite Delete(GrainStateKey key, long expectedVersion, IReadOnlyList<EventDraft> events) =>
        new(key, null, delete: true, expectedVersion, events, []);

    public static StorageWrite EventsOnly(IReadOnlyList<EventDraft> events) => new(null, null, delete: false, 0, events, []);

    public static StorageWrite ReminderOnly(ReminderChange change) => new(null, null, delete: false, 0, [], [change]);
}
