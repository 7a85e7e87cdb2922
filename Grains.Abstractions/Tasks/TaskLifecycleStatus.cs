using System.Text.Json.Serialization;

namespace Orchestration.Grains.Tasks;

/// <summary>
/// A task's status (API.md, "Tasks"): <c>blocked</c> → <c>ready</c> → <c>claimed</c> → <c>running</c> →
/// <c>completed</c> | <c>failed</c> (retry pending) | <c>dead_lettered</c> | <c>cancelled</c>.
/// </summary>
[JsonConverter(typeof(StrictEnumConverter<TaskLifecycleStatus>))]
public enum TaskLifecycleStatus
{
    /// <summary>Waiting for its dependencies.</summary>
    [JsonStringEnumMemberName("blocked")]
    Blocked,

    /// <summary>In the queue, claimable.</summary>
    [JsonStringEnumMemberName("ready")]
    Ready,

    /// <summary>Leased to an agent that has not reported progress yet.</summary>
    [JsonStringEnumMemberName("claimed")]
    Claimed,

    /// <summary>Leased to an agent that has reported progress.</summary>
    [JsonStringEnumMemberName("running")]
    Running,

    /// <summary>Done (terminal).</summary>
    [JsonStringEnumMemberName("completed")]
    Completed,

    /// <summary>The last attempt failed; a retry is pending after a back-off.</summary>
    [JsonStringEnumMemberName("failed")]
    Failed,

    /// <summary>Every attempt was used up (terminal).</summary>
    [JsonStringEnumMemberName("dead_lettered")]
    DeadLettered,

    /// <summary>Cancelled (terminal).</summary>
    [JsonStringEnumMemberName("cancelled")]
    Cancelled,

    /// <summary>An escalation about it is open.</summary>
    [JsonStringEnumMemberName("waiting_on_human")]
    WaitingOnHuman,
}
