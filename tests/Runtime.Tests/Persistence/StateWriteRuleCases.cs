namespace Orchestration.Runtime.Tests.Persistence;

/// <summary>What is stored before a rule case's write.</summary>
public enum StoredBefore
{
    /// <summary>No row was ever written.</summary>
    Nothing,

    /// <summary>A live row at version 2 (created, then updated once).</summary>
    LiveAtTwo,

    /// <summary>A tombstone at version 3 (created, updated, then deleted at version 2).</summary>
    TombstoneAtThree,
}

/// <summary>
/// One line of the state write rules: a write (or delete) expecting a version meets what is stored.
/// <paramref name="ReadVersionAfter"/> is null when a read afterwards finds no record.
/// </summary>
public sealed record StateWriteRuleCase(StoredBefore Stored, bool IsDelete, long ExpectedVersion, bool Conflict, long NewVersion, long? ReadVersionAfter)
{
    public override string ToString() =>
        $"{(IsDelete ? "delete" : "write")} expecting {ExpectedVersion} over {Stored}";
}

/// <summary>
/// The rule table, written out once: the <c>StateWriteRules</c> unit tests and every provider's conformance suite
/// check against these same lines, so the providers cannot drift apart.
/// </summary>
public static class StateWriteRuleCases
{
    public static readonly IReadOnlyList<StateWriteRuleCase> All =
    [
        // Nothing stored: only a writer that found nothing may write; deleting nothing is a no-op.
        new(StoredBefore.Nothing, IsDelete: false, ExpectedVersion: 0, Conflict: false, NewVersion: 1, ReadVersionAfter: 1),
        new(StoredBefore.Nothing, IsDelete: false, ExpectedVersion: 1, Conflict: true, NewVersion: 0, ReadVersionAfter: null),
        new(StoredBefore.Nothing, IsDelete: true, ExpectedVersion: 0, Conflict: false, NewVersion: 0, ReadVersionAfter: null),
        new(StoredBefore.Nothing, IsDelete: true, ExpectedVersion: 1, Conflict: true, NewVersion: 0, ReadVersionAfter: null),

        // A live row: writes and deletes must carry its exact version; a blind create or delete (0) conflicts.
        new(StoredBefore.LiveAtTwo, IsDelete: false, ExpectedVersion: 0, Conflict: true, NewVersion: 0, ReadVersionAfter: 2),
        new(StoredBefore.LiveAtTwo, IsDelete: false, ExpectedVersion: 1, Conflict: true, NewVersion: 0, ReadVersionAfter: 2),
        new(StoredBefore.LiveAtTwo, IsDelete: false, ExpectedVersion: 2, Conflict: false, NewVersion: 3, ReadVersionAfter: 3),
        new(StoredBefore.LiveAtTwo, IsDelete: false, ExpectedVersion: 3, Conflict: true, NewVersion: 0, ReadVersionAfter: 2),
        new(StoredBefore.LiveAtTwo, IsDelete: true, ExpectedVersion: 0, Conflict: true, NewVersion: 0, ReadVersionAfter: 2),
        new(StoredBefore.LiveAtTwo, IsDelete: true, ExpectedVersion: 1, Conflict: true, NewVersion: 0, ReadVersionAfter: 2),
        new(StoredBefore.LiveAtTwo, IsDelete: true, ExpectedVersion: 2, Conflict: false, NewVersion: 0, ReadVersionAfter: null),
        new(StoredBefore.LiveAtTwo, IsDelete: true, ExpectedVersion: 3, Conflict: true, NewVersion: 0, ReadVersionAfter: 2),

        // A tombstone reads as nothing: a create (0) succeeds with the tombstone's version + 1, so no version is
        // ever handed out twice; whoever still holds the pre-delete version (2) conflicts, and the tombstone's own
        // version (3) was never visible to anyone.
        new(StoredBefore.TombstoneAtThree, IsDelete: false, ExpectedVersion: 0, Conflict: false, NewVersion: 4, ReadVersionAfter: 4),
        new(StoredBefore.TombstoneAtThree, IsDelete: false, ExpectedVersion: 2, Conflict: true, NewVersion: 0, ReadVersionAfter: null),
        new(StoredBefore.TombstoneAtThree, IsDelete: false, ExpectedVersion: 3, Conflict: true, NewVersion: 0, ReadVersionAfter: null),
        new(StoredBefore.TombstoneAtThree, IsDelete: true, ExpectedVersion: 0, Conflict: false, NewVersion: 0, ReadVersionAfter: null),
        new(StoredBefore.TombstoneAtThree, IsDelete: true, ExpectedVersion: 2, Conflict: true, NewVersion: 0, ReadVersionAfter: null),
        new(StoredBefore.TombstoneAtThree, IsDelete: true, ExpectedVersion: 3, Conflict: true, NewVersion: 0, ReadVersionAfter: null),
    ];

    /// <summary>Case indexes, for theories (xunit shows each one by its index).</summary>
    public static TheoryData<int> Indexes
    {
        get
        {
            var data = new TheoryData<int>();
            for (var i = 0; i < All.Count; i++)
            {
                data.Add(i);
            }

            return data;
        }
    }
}
