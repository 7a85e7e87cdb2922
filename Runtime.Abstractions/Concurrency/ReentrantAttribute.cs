namespace Orchestration.Runtime;

/// <summary>
/// Lets calls to this grain class interleave at their awaits. Interleaved calls still never run in parallel:
/// the activation executes one piece of code at a time.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class ReentrantAttribute : Attribute;
