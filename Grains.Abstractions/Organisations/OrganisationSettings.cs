using System.Text.Json.Serialization;

namespace Orchestration.Grains.Organisations;

/// <summary>Settings of one organisation.</summary>
/// <param name="HeartbeatIntervalSeconds">How often agents are expected to heartbeat. Default: 20.</param>
/// <param name="MissedHeartbeatsAllowed">An agent is declared offline after this many intervals without a heartbeat. Default: 3.</param>
/// <param name="RateLimitPerSecond">Requests per second each API key may make. Default: 1,000.</param>
/// <param name="RateLimitBurst">Requests each API key may make in a burst. Default: 2,000.</param>
public sealed record OrganisationSettings(
    int HeartbeatIntervalSeconds = 20,
    int MissedHeartbeatsAllowed = 3,
    int RateLimitPerSecond = 1_000,
    int RateLimitBurst = 2_000)
{
    /// <summary>How long an agent may stay silent before it is declared offline.</summary>
    [JsonIgnore]
    public TimeSpan HeartbeatWindow => TimeSpan.FromSeconds((double)HeartbeatIntervalSeconds * MissedHeartbeatsAllowed);
}
