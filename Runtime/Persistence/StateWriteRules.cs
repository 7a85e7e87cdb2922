namespace Orchestration.Runtime.Persistence;

/// <summary>
/// The one definition of how a state write or delete meets the stored row. Memory and SQLite call
/// <see cref="Decide"/>; Postgres' <c>orch_commit</c> implements the same table in SQL, and the conformance suite holds
/// all three to one list of cases.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>A delete leaves a tombstone (no data, the version counter kept). Reads treat it as no record.</item>
/// <item>The version a writer must present is the one a reader sees: the live row's version, or 0 when there is no
/// row or only a tombstone. Deletes are checked the same way, so a blind delete (0) of a live row conflicts.</item>
/// <item>Every change stores the previous counter + 1, the tombstone's included; so a create over a tombstone
/// succeeds with a version never handed out before, and whoever still holds a pre-delete version conflicts.</item>
/// <item>Deleting what does not exist (no row, or a tombstone) with 0 succeeds and changes nothing.</item>
/// </list>
/// </remarks>
internal static class StateWriteRules
{
    public static StateWriteDecision Decide(StoredVersion? stored, long expectedVersion, bool isDelete)
    {
        var visibleVersion = stored is { IsTombstone: false } live ? live.Version : 0;
        if (expectedVersion != visibleVersion)
        {
            return new StateWriteDecision(StateRowChange.Conflict, 0);
        }

        if (isDelete)
        {
            return visibleVersion == 0
                ? new StateWriteDecision(StateRowChange.None, 0)
                : new StateWriteDecision(StateRowChange.Tombstone, visibleVersion + 1);
        }

        return new StateWriteDecision(StateRowChange.Upsert, (stored?.Version ?? 0) + 1);
    }
}

/// <summary>The stored row's version counter, and whether the row is a tombstone.</summary>
internal readonly record struct StoredVersion(long Version, bool IsTombstone);

/// <summary>What a write does to its row.</summary>
internal enum StateRowChange
{
    /// <summary>The version check failed: nothing of the write is stored.</summary>
    Conflict,

    /// <summary>Succeeds without touching the row (deleting what does not exist).</summary>
    None,

    /// <summary>Stores the data with <see cref="StateWriteDecision.StoredVersion"/>.</summary>
    Upsert,

    /// <summary>Clears the data and keeps the counter at <see cref="StateWriteDecision.StoredVersion"/>.</summary>
    Tombstone,
}

/// <param name="Change">What happens to the row.</param>
/// <param name="StoredVersion">The row's counter afterwards, for <see cref="StateRowChange.Upsert"/> and <see cref="StateRowChange.Tombstone"/>.</param>
internal readonly record struct StateWriteDecision(StateRowChange Change, long StoredVersion)
{
    public bool Conflict => Change == StateRowChange.Conflict;

    /// <summary>The version the writer holds afterwards (<see cref="StorageWrite.NewVersion"/>): 0 unless it stored data.</summary>
    public long NewVersion => Change == StateRowChange.Upsert ? StoredVersion : 0;
}
