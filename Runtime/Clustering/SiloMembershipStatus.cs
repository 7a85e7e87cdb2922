namespace Orchestration.Runtime.Clustering;

/// <summary>A silo generation's place in the membership table, as Orleans' silo statuses.</summary>
internal enum SiloMembershipStatus
{
    /// <summary>Registered; not yet serving partitions.</summary>
    Joining,

    /// <summary>Serving its share of partitions.</summary>
    Active,

    /// <summary>Leaving gracefully: draining and releasing its partitions.</summary>
    ShuttingDown,

    /// <summary>Gone (left, or declared dead when its heartbeat was overdue). A generation never comes back from dead.</summary>
    Dead,
}
