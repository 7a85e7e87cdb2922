namespace Orchestration.Grains;

/// <summary>
/// The one type of domain failure a grain reports: a stable snake_case <see cref="Code"/> (see <see cref="ProblemCodes"/>)
/// and a plain-English message. The Api maps it once to an RFC 9457 problem response.
/// </summary>
public sealed class OrchestrationException(string code, string message) : Exception(message)
{
    /// <summary>The stable problem code, for example <c>not_lease_holder</c>.</summary>
    public string Code { get; } = code;
}
