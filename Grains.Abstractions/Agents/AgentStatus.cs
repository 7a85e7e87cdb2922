using System.Text.Json.Serialization;

namespace Orchestration.Grains.Agents;

/// <summary>An agent's liveness and availability (API.md, "Agents").</summary>
[JsonConverter(typeof(StrictEnumConverter<AgentStatus>))]
public enum AgentStatus
{
    /// <summary>Heartbeating, holding no task.</summary>
    [JsonStringEnumMemberName("online")]
    Online,

    /// <summary>Heartbeating, holding at least one task.</summary>
    [JsonStringEnumMemberName("busy")]
    Busy,

    /// <summary>Paused by an operator: claims are refused.</summary>
    [JsonStringEnumMemberName("paused")]
    Paused,

    /// <summary>Missed its heartbeat window or deregistered: its leases were released.</summary>
    [JsonStringEnumMemberName("offline")]
    Offline,
}
