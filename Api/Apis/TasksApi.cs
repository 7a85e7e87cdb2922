using Microsoft.AspNetCore.Http.HttpResults;
using Orchestration.Api.Auth;
using Orchestration.Api.Contracts;
using Orchestration.Grains;
using Orchestration.Grains.Tasks;
using Orchestration.Runtime.Projections;

namespace Orchestration.Api.Apis;

/// <summary><c>/api/v1/tasks</c>: creating tasks, claiming them and the lease holder's calls.</summary>
internal static class TasksApi
{
    /// <summary>The longest claim long-poll a client may ask for (<c>waitSeconds</c>).</summary>
    internal const int MaxWaitSeconds = 30;

    private static readonly string[] s_statuses =
        ["blocked", "ready", "claimed", "running", "completed", "failed", "dead_lettered", "cancelled", "waiting_on_human"];

    public static IEndpointRouteBuilder MapTasksApi(this IEndpointRouteBuilder routes)
    {
        var tasks = routes.MapResourceGroup("/api/v1/tasks", "Tasks");
        tasks.MapGet("", ListTasksAsync).WithName("ListTasks");
        tasks.MapGet("{id}", GetTaskAsync).WithName("GetTask");

        var operate = tasks.MapGroup("").RequireAuthorization(ApiPolicies.Operate);
        operate.MapPost("", CreateTaskAsync).WithName("CreateTask");
        operate.MapPost("{id}/cancel", CancelTaskAsync).WithName("CancelTask");

        // The lease holder's calls: agent keys may make them for their own agent only.
        var lease = tasks.MapGroup("").RequireAuthorization(ApiPolicies.ActAsAgent);
        lease.MapPost("claim", ClaimNextTaskAsync).WithName("ClaimNextTask");
        lease.MapPost("{id}/claim", ClaimTaskAsync).WithName("ClaimTask");
        lease.MapPost("{id}/progress", ReportProgressAsync).WithName("ReportTaskProgress");
        lease.MapPost("{id}/complete", CompleteTaskAsync).WithName("CompleteTask");
        lease.MapPost("{id}/fail", FailTaskAsync).WithName("FailTask");
        lease.MapPost("{id}/release", ReleaseTaskAsync).WithName("ReleaseTask");
        return routes;
    }

    private static async Task<Results<Created<TaskView>, ProblemHttpResult>> CreateTaskAsync(
        CreateTaskRequest body, Caller caller, HttpContext context, [AsParameters] ApiServices services)
    {
        var validator = new RequestValidator();
        validator.OptionalId("id", body.Id);
        validator.Text("title", body.Title, 500);
        validator.OptionalText("description", body.Description, 64 * 1024);
        validator.Range("priority", body.Priority, 0, 100);
        validator.IdList("requiredCapabilities", body.RequiredCapabilities, 100);
        validator.IdList("dependsOn", body.DependsOn, 100);
        validator.Json("input", body.Input, services.Options.Value.MaxTaskInputBytes);
        validator.Range("maxAttempts", body.MaxAttempts, 1, 100);
        validator.Range("leaseSeconds", body.LeaseSeconds, 1, 86_400);
        validator.OptionalId("workflowId", body.WorkflowId);
        if (body.Id is not null && body.DependsOn?.Contains(body.Id) == true)
        {
            validator.Add("dependsOn", "a task cannot depend on itself.");
        }

        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        var id = body.Id ?? Ids.NewFor(context, services.Time);
        var request = new CreateTask(body.Title!, body.Description, body.Priority ?? 50,
            [.. (body.RequiredCapabilities ?? []).Select(capability => capability!)], [.. (body.DependsOn ?? []).Select(dependency => dependency!).Distinct()],
            body.Input, body.MaxAttempts ?? 3, body.LeaseSeconds ?? 300, body.WorkflowId)
        {
            CreationToken = IdempotencyMiddleware.ReservedId(context),
        };
        var grain = TaskGrain(services, caller, id);
        TaskView task;
        try
        {
            task = await grain.CreateAsync(request, caller.Actor);
        }
        catch (OrchestrationException e) when (e.Code == ProblemCodes.DependencyNotFound)
        {
            validator.Add("dependsOn", e.Message);
            return validator.Problem();
        }

        return TypedResults.Created($"/api/v1/tasks/{id}", task);
    }

    private static async Task<Results<Ok<ListPage<TaskView>>, ProblemHttpResult>> ListTasksAsync(
        string? status, string? agentId, string? workflowId, string? limit, string? cursor, Caller caller,
        [AsParameters] ApiServices services, CancellationToken cancellationToken)
    {
        var validator = new RequestValidator();
        var pageSize = ApiGroups.Limit(validator, limit, cursor);
        if (status is not null && !s_statuses.Contains(status, StringComparer.Ordinal))
        {
            validator.Add("status", $"must be one of {string.Join(", ", s_statuses)}.");
        }

        validator.OptionalId("agentId", agentId);
        validator.OptionalId("workflowId", workflowId);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        var query = new ProjectionQuery("tasks", caller.OrgId) { Status = status, Owner = agentId, Group = workflowId, Limit = pageSize, Cursor = cursor };
        return await ApiGroups.QueryAsync(services.Projections, query, GrainContractsJsonContext.Default.TaskView, cancellationToken);
    }

    private static async Task<Results<Ok<TaskView>, ProblemHttpResult>> GetTaskAsync(string id, Caller caller, [AsParameters] ApiServices services)
    {
        var validator = new RequestValidator();
        validator.Id("id", id);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        return TypedResults.Ok(await TaskGrain(services, caller, id).GetAsync());
    }

    /// <summary>
    /// Long-polls in chunks of at most <see cref="Extensions.ApiOptions.ClaimWaitChunk"/>, so no single grain call nears the
    /// runtime's response timeout, and stops early when the client goes away (giving back a task claimed meanwhile).
    /// </summary>
    private static async Task<Results<Ok<TaskView>, NoContent, ProblemHttpResult>> ClaimNextTaskAsync(
        ClaimNextTaskRequest body, Caller caller, HttpContext context, [AsParameters] ApiServices services, CancellationToken cancellationToken)
    {
        var validator = new RequestValidator();
        validator.Id("agentId", body.AgentId);
        validator.Range("waitSeconds", body.WaitSeconds, 0, MaxWaitSeconds);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        if (!caller.MayActAs(body.AgentId!))
        {
            return ApiProblems.NotYourAgent(body.AgentId!);
        }

        var queue = services.Grains.GetGrain<ITaskQueueGrain>(caller.OrgId);
        var deadline = services.Time.GetUtcNow() + TimeSpan.FromSeconds(body.WaitSeconds ?? 0);
        while (true)
        {
            var remaining = deadline - services.Time.GetUtcNow();
            var wait = remaining <= TimeSpan.Zero ? TimeSpan.Zero : remaining < services.Options.Value.ClaimWaitChunk ? remaining : services.Options.Value.ClaimWaitChunk;
            if (await queue.ClaimAsync(ClaimOf(context, body.AgentId!, null, wait)) is { } claimed)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    // Nobody will read this answer: a lease held for a gone client would keep the task from every other
                    // agent until it expired, and count an attempt. Releasing counts none.
                    try
                    {
                        await TaskGrain(services, caller, claimed.Id).ReleaseAsync(new LeaseHolderCall(body.AgentId!, claimed.Attempt));
                    }
                    catch (OrchestrationException)
                    {
                        // The lease already ended (expired, or the agent went offline): nothing left to give back.
                    }

                    return TypedResults.NoContent();
                }

                return TypedResults.Ok(claimed);
            }

            if (wait == TimeSpan.Zero || services.Time.GetUtcNow() >= deadline || cancellationToken.IsCancellationRequested)
            {
                return TypedResults.NoContent();
            }
        }
    }

    /// <summary>
    /// A claim named by its request's <c>Idempotency-Key</c>, if sent: a run after a crashed one answers with the task that
    /// run leased instead of leasing a second (ADR 10).
    /// </summary>
    private static ClaimTask ClaimOf(HttpContext context, string agentId, string? taskId, TimeSpan wait) =>
        new(agentId, taskId, wait) { ClaimToken = IdempotencyMiddleware.ReservedId(context), IsRerun = IdempotencyMiddleware.IsRerun(context) };

    private static async Task<Results<Ok<TaskView>, ProblemHttpResult>> ClaimTaskAsync(
        string id, ClaimTaskRequest body, Caller caller, HttpContext context, [AsParameters] ApiServices services)
    {
        if (LeaseProblem(id, body.AgentId, null, caller) is { } problem)
        {
            return problem;
        }

        var claimed = await services.Grains.GetGrain<ITaskQueueGrain>(caller.OrgId).ClaimAsync(ClaimOf(context, body.AgentId!, id, TimeSpan.Zero));
        return claimed is null
            ? ApiProblems.Result(StatusCodes.Status409Conflict, ProblemCodes.TaskNotClaimable, $"Task '{id}' cannot be claimed now.")
            : TypedResults.Ok(claimed);
    }

    private static async Task<Results<Ok<TaskView>, ProblemHttpResult>> ReportProgressAsync(
        string id, ProgressRequest body, Caller caller, [AsParameters] ApiServices services)
    {
        if (LeaseProblem(id, body.AgentId, body.Attempt, caller, validator =>
            {
                validator.Range("percent", body.Percent, 0, 100);
                validator.OptionalText("message", body.Message, 4000);
            }) is { } problem)
        {
            return problem;
        }

        return TypedResults.Ok(await TaskGrain(services, caller, id).ReportProgressAsync(new LeaseHolderCall(body.AgentId!, body.Attempt), body.Percent, body.Message));
    }

    private static async Task<Results<Ok<TaskView>, ProblemHttpResult>> CompleteTaskAsync(
        string id, CompleteRequest body, Caller caller, [AsParameters] ApiServices services)
    {
        if (LeaseProblem(id, body.AgentId, body.Attempt, caller, validator => validator.Json("output", body.Output, services.Options.Value.MaxTaskInputBytes)) is { } problem)
        {
            return problem;
        }

        return TypedResults.Ok(await TaskGrain(services, caller, id).CompleteAsync(new LeaseHolderCall(body.AgentId!, body.Attempt), body.Output));
    }

    private static async Task<Results<Ok<TaskView>, ProblemHttpResult>> FailTaskAsync(
        string id, FailRequest body, Caller caller, [AsParameters] ApiServices services)
    {
        if (LeaseProblem(id, body.AgentId, body.Attempt, caller, validator => validator.Text("error", body.Error, 64 * 1024)) is { } problem)
        {
            return problem;
        }

        return TypedResults.Ok(await TaskGrain(services, caller, id).FailAsync(new LeaseHolderCall(body.AgentId!, body.Attempt), body.Error!, body.Retryable ?? true));
    }

    private static async Task<Results<Ok<TaskView>, ProblemHttpResult>> ReleaseTaskAsync(
        string id, ReleaseRequest body, Caller caller, [AsParameters] ApiServices services)
    {
        if (LeaseProblem(id, body.AgentId, body.Attempt, caller) is { } problem)
        {
            return problem;
        }

        return TypedResults.Ok(await TaskGrain(services, caller, id).ReleaseAsync(new LeaseHolderCall(body.AgentId!, body.Attempt)));
    }

    private static async Task<Results<Ok<TaskView>, ProblemHttpResult>> CancelTaskAsync(
        string id, CancelRequest? body, Caller caller, [AsParameters] ApiServices services)
    {
        var validator = new RequestValidator();
        validator.Id("id", id);
        validator.OptionalText("reason", body?.Reason, 4000);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        return TypedResults.Ok(await TaskGrain(services, caller, id).CancelAsync(body?.Reason, caller.Actor));
    }

    private static ProblemHttpResult? LeaseProblem(string id, string? agentId, int? attempt, Caller caller, Action<RequestValidator>? more = null)
    {
        var validator = new RequestValidator();
        validator.Id("id", id);
        validator.Id("agentId", agentId);
        validator.Range("attempt", attempt, 0, int.MaxValue); // 0 is a fencing token too (no claim yet): never the current one, so 409
        more?.Invoke(validator);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        return caller.MayActAs(agentId!) ? null : ApiProblems.NotYourAgent(agentId!);
    }

    private static ITaskGrain TaskGrain(ApiServices services, Caller caller, string id) => services.Grains.GetGrain<ITaskGrain>($"{caller.OrgId}/{id}");
}
