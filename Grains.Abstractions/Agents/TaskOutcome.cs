using System.Text.Json.Serialization;

namespace Orchestration.Grains.Agents;

/// <summary>How a task lease held by an agent ended.</summary>
[JsonConverter(typeof(StrictEnumConverter<TaskOutcome>))]
public enum TaskOutcome
{
    /// <summary>The agent completed the task.</summary>
    [JsonStringEnumMemberName("completed")]
    Completed,

    /// <summary>The agent reported a failure.</summary>
    [JsonStringEnumMemberName("failed")]
    Failed,

    /// <summary>The agent released the task, or the task was cancelled.</summary>
    [JsonStringEnumMemberName("released")]
    Released,

    /// <summary>The lease expired or was taken back.</summary>
    [JsonStringEnumMemberName("lost")]
    Lost,
}
