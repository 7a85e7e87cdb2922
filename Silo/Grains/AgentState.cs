using System.Text.Json;
using Orchestration.Grains.Agents;

namespace Orchestration.Silo.Grains;

/// <summary>The persisted state of <see cref="AgentGrain"/>.</summary>
internal sealed class AgentState
{
    public bool Registered { get; set; }

    public string Name { get; set; } = string.Empty;

    public List<string> Capabilities { get; set; } = [];

    public string? Model { get; set; }

    public int MaxConcurrentTasks { get; set; } = 1;

    public JsonElement? Metadata { get; set; }

    /// <summary>Online, Paused or Offline; Busy is derived (online with active tasks).</summary>
    public AgentStatus Status { get; set; }

    /// <summary>Paused by an operator when it went offline: it comes back paused, not online.</summary>
    public bool PausedWhenOffline { get; set; }

    public DateTimeOffset LastHeartbeatAt { get; set; }

    public List<string> ActiveTaskIds { get; set; } = [];

    /// <summary>
    /// Tasks whose leases the agent gave up (it went offline or was deregistered, or a claim reached it then) and that
    /// are not all revoked yet. A reminder is registered while any is left; a deregistered agent keeps this state
    /// (not <see cref="Registered"/>) until the list is empty.
    /// </summary>
    public List<string> LeasesToRevoke { get; set; } = [];

    public int CompletedCount { get; set; }

    public int FailedCount { get; set; }

    public DateTimeOffset RegisteredAt { get; set; }
}
