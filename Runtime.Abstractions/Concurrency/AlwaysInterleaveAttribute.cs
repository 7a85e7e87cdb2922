namespace Orchestration.Runtime;

/// <summary>
/// On a grain interface method: calls to it may interleave with any other call of the activation, even on a
/// non-reentrant grain. Meant for read-only methods; they still never run in parallel with other code of the activation.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class AlwaysInterleaveAttribute : Attribute;
