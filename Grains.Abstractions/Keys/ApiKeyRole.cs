using System.Text.Json.Serialization;

namespace Orchestration.Grains.Keys;

/// <summary>What an API key may do (API.md, "Conventions").</summary>
[JsonConverter(typeof(StrictEnumConverter<ApiKeyRole>))]
public enum ApiKeyRole
{
    /// <summary>Read only.</summary>
    [JsonStringEnumMemberName("viewer")]
    Viewer,

    /// <summary>Its own agent's calls, tasks, locks, usage and escalations; bound to one agent id.</summary>
    [JsonStringEnumMemberName("agent")]
    Agent,

    /// <summary>Everything in its organisation but keys.</summary>
    [JsonStringEnumMemberName("operator")]
    Operator,

    /// <summary>Everything in its organisation, keys included.</summary>
    [JsonStringEnumMemberName("admin")]
    Admin,

    /// <summary>Creates organisations; also the admin of the <c>default</c> organisation.</summary>
    [JsonStringEnumMemberName("platform")]
    Platform,
}
