namespace Orchestration.Grains;

/// <summary>The stable problem codes grains report (API.md); the Api decides their HTTP status in one place.</summary>
public static class ProblemCodes
{
    /// <summary>The object does not exist (or belongs to another organisation). HTTP 404.</summary>
    public const string NotFound = "not_found";

    /// <summary>An object with this id already exists and cannot be created again. HTTP 409.</summary>
    public const string AlreadyExists = "already_exists";

    /// <summary>The request is not allowed in the object's current state; the message names that state. HTTP 409.</summary>
    public const string InvalidTransition = "invalid_transition";

    /// <summary>The task cannot be claimed now (not ready, or its lease is held). HTTP 409.</summary>
    public const string TaskNotClaimable = "task_not_claimable";

    /// <summary>The caller does not hold the task's current lease (wrong agent or stale attempt). HTTP 409.</summary>
    public const string NotLeaseHolder = "not_lease_holder";

    /// <summary>The agent is paused, offline or at its task limit. HTTP 409.</summary>
    public const string AgentNotAvailable = "agent_not_available";

    /// <summary>The request breaks a rule the grain checks (a range, a reference). HTTP 400.</summary>
    public const string InvalidRequest = "invalid_request";

    /// <summary>
    /// A task names a dependency that does not exist (in its organisation). HTTP 400; the Api answers it as
    /// <c>validation_failed</c> with the message under <c>dependsOn</c>, as it answers the fields it checks itself.
    /// </summary>
    public const string DependencyNotFound = "dependency_not_found";
}
