namespace Orchestration.Runtime;

/// <summary>
/// The identity of a grain: its type name (the grain class's registered name) and its key.
/// Two references with equal ids always reach the same activation.
/// </summary>
/// <param name="Type">The grain type name, stable across builds (defaults to the class name without a trailing "Grain").</param>
/// <param name="Key">The grain key.</param>
public readonly record struct GrainId(string Type, string Key)
{
    /// <summary>Formats as <c>type/key</c>.</summary>
    public override string ToString() => $"{Type}/{Key}";
}
