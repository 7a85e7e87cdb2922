using System.Text.Json;
using Orchestration.Grains.Agents;
using Orchestration.Grains.Events;
using Orchestration.Grains.Tasks;
using Orchestration.Runtime;

namespace Orchestration.Product.Bench;

/// <summary>
/// The product through its grains, as the Api calls them: <c>ITaskGrain.CreateAsync</c>, the organisation's
/// <c>ITaskQueueGrain.ClaimAsync</c> (no wait), <c>ITaskGrain.CompleteAsync</c> with the claimed attempt as fencing token.
/// Each agent is registered with one task at a time.
/// </summary>
internal sealed class GrainBoard(IGrainFactory grains) : ITaskBoard
{
    private const string Org = "bench";
    private static readonly EventActor s_producer = new("api_key", "bench");
    private static readonly JsonElement s_output = JsonDocument.Parse("""{"ok":true}""").RootElement;

    public async Task RegisterAgentsAsync()
    {
        for (var i = 0; i < TaskLifecycle.Agents; i++)
        {
            var id = AgentId(i);
            await grains.GetGrain<IAgentGrain>($"{Org}/{id}").RegisterAsync(new RegisterAgent(id, [], "bench-model", 1, null), new EventActor("agent", id));
        }
    }

    public Task CreateAsync(int agent, string taskId) =>
        grains.GetGrain<ITaskGrain>($"{Org}/{taskId}").CreateAsync(new CreateTask("bench task", null, 50, [], [], null, 3, 60, null), s_producer);

    public async Task<ClaimedTask?> ClaimAsync(int agent) =>
        await grains.GetGrain<ITaskQueueGrain>(Org).ClaimAsync(new ClaimTask(AgentId(agent), null, TimeSpan.Zero)) is { } view
            ? new ClaimedTask(view.Id, view.Attempt)
            : null;

    public Task CompleteAsync(int agent, ClaimedTask task) =>
        grains.GetGrain<ITaskGrain>($"{Org}/{task.TaskId}").CompleteAsync(new LeaseHolderCall(AgentId(agent), task.Attempt), s_output);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static string AgentId(int agent) => $"agent-{agent}";
}
