using System.Text.Json;

namespace Orchestration.Grains.Agents;

/// <summary>Registers an agent, or updates a registered one (registering counts as a heartbeat).</summary>
/// <param name="Name">A display name.</param>
/// <param name="Capabilities">What it can do; a task is offered only to agents with all its required capabilities.</param>
/// <param name="Model">The model behind it, if any.</param>
/// <param name="MaxConcurrentTasks">How many task leases it may hold at once (at least 1).</param>
/// <param name="Metadata">Free-form JSON kept with it.</param>
public sealed record RegisterAgent(string Name, IReadOnlyList<string> Capabilities, string? Model, int MaxConcurrentTasks, JsonElement? Metadata);
