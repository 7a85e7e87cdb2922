using Microsoft.AspNetCore.Http.HttpResults;
using Orchestration.Api.Auth;
using Orchestration.Api.Contracts;
using Orchestration.Grains;
using Orchestration.Grains.Agents;
using Orchestration.Runtime.Projections;

namespace Orchestration.Api.Apis;

/// <summary><c>/api/v1/agents</c>: registration, heartbeats and the operator's controls.</summary>
internal static class AgentsApi
{
    private static readonly string[] s_statuses = ["online", "busy", "paused", "offline"];

    public static IEndpointRouteBuilder MapAgentsApi(this IEndpointRouteBuilder routes)
    {
        var agents = routes.MapResourceGroup("/api/v1/agents", "Agents");
        agents.MapGet("", ListAgentsAsync).WithName("ListAgents");
        agents.MapGet("{id}", GetAgentAsync).WithName("GetAgent");

        var self = agents.MapGroup("").RequireAuthorization(ApiPolicies.ActAsAgent);
        self.MapPost("", RegisterAgentAsync).WithName("RegisterAgent");
        self.MapPost("{id}/heartbeat", HeartbeatAsync).WithName("AgentHeartbeat");

        var operate = agents.MapGroup("").RequireAuthorization(ApiPolicies.Operate);
        operate.MapPost("{id}/pause", PauseAgentAsync).WithName("PauseAgent");
        operate.MapPost("{id}/resume", ResumeAgentAsync).WithName("ResumeAgent");
        operate.MapDelete("{id}", DeregisterAgentAsync).WithName("DeregisterAgent");
        return routes;
    }

    private static async Task<Results<Created<AgentView>, Ok<AgentView>, ProblemHttpResult>> RegisterAgentAsync(
        RegisterAgentRequest body, Caller caller, HttpContext context, [AsParameters] ApiServices services)
    {
        var validator = new RequestValidator();
        validator.OptionalId("id", body.Id);
        validator.Text("name", body.Name, 200);
        validator.IdList("capabilities", body.Capabilities, 100);
        validator.OptionalText("model", body.Model, 200);
        validator.Range("maxConcurrentTasks", body.MaxConcurrentTasks, 1, 1000);
        validator.Json("metadata", body.Metadata, 64 * 1024);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        var id = body.Id ?? (caller.AgentId is { } own && caller.Role == Grains.Keys.ApiKeyRole.Agent ? own : Ids.NewFor(context, services.Time));
        if (!caller.MayActAs(id))
        {
            return ApiProblems.NotYourAgent(id);
        }

        var request = new RegisterAgent(body.Name!, [.. (body.Capabilities ?? []).Select(capability => capability!)], body.Model,
            body.MaxConcurrentTasks ?? 1, body.Metadata);
        var registration = await Agent(services, caller, id).RegisterAsync(request, caller.Actor);
        return registration.Created
            ? TypedResults.Created($"/api/v1/agents/{id}", registration.Agent)
            : TypedResults.Ok(registration.Agent);
    }

    private static async Task<Results<Ok<HeartbeatResult>, ProblemHttpResult>> HeartbeatAsync(string id, Caller caller, [AsParameters] ApiServices services)
    {
        if (Invalid(id) is { } problem)
        {
            return problem;
        }

        if (!caller.MayActAs(id))
        {
            return ApiProblems.NotYourAgent(id);
        }

        return TypedResults.Ok(await Agent(services, caller, id).HeartbeatAsync());
    }

    private static async Task<Results<Ok<ListPage<AgentView>>, ProblemHttpResult>> ListAgentsAsync(
        string? status, string? limit, string? cursor, Caller caller, [AsParameters] ApiServices services, CancellationToken cancellationToken)
    {
        var validator = new RequestValidator();
        var pageSize = ApiGroups.Limit(validator, limit, cursor);
        if (status is not null && !s_statuses.Contains(status, StringComparer.Ordinal))
        {
            validator.Add("status", $"must be one of {string.Join(", ", s_statuses)}.");
        }

        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        var query = new ProjectionQuery("agents", caller.OrgId) { Status = status, Limit = pageSize, Cursor = cursor };
        return await ApiGroups.QueryAsync(services.Projections, query, GrainContractsJsonContext.Default.AgentView, cancellationToken);
    }

    private static async Task<Results<Ok<AgentView>, ProblemHttpResult>> GetAgentAsync(string id, Caller caller, [AsParameters] ApiServices services) =>
        Invalid(id) ?? (Results<Ok<AgentView>, ProblemHttpResult>)TypedResults.Ok(await Agent(services, caller, id).GetAsync());

    private static async Task<Results<Ok<AgentView>, ProblemHttpResult>> PauseAgentAsync(string id, Caller caller, [AsParameters] ApiServices services) =>
        Invalid(id) ?? (Results<Ok<AgentView>, ProblemHttpResult>)TypedResults.Ok(await Agent(services, caller, id).PauseAsync(caller.Actor));

    private static async Task<Results<Ok<AgentView>, ProblemHttpResult>> ResumeAgentAsync(string id, Caller caller, [AsParameters] ApiServices services) =>
        Invalid(id) ?? (Results<Ok<AgentView>, ProblemHttpResult>)TypedResults.Ok(await Agent(services, caller, id).ResumeAsync(caller.Actor));

    private static async Task<Results<NoContent, ProblemHttpResult>> DeregisterAgentAsync(string id, Caller caller, [AsParameters] ApiServices services)
    {
        if (Invalid(id) is { } problem)
        {
            return problem;
        }

        await Agent(services, caller, id).DeregisterAsync(caller.Actor);
        return TypedResults.NoContent();
    }

    private static IAgentGrain Agent(ApiServices services, Caller caller, string id) =>
        services.Grains.GetGrain<IAgentGrain>($"{caller.OrgId}/{id}");

    private static ProblemHttpResult? Invalid(string id)
    {
        var validator = new RequestValidator();
        validator.Id("id", id);
        return validator.HasErrors ? validator.Problem() : null;
    }
}
