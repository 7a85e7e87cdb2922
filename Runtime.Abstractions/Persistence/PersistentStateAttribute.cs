namespace Orchestration.Runtime;

/// <summary>Marks a grain constructor parameter of type <see cref="IPersistentState{TState}"/> to be injected.</summary>
/// <param name="stateName">The state's name, unique within the grain type.</param>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class PersistentStateAttribute(string stateName) : Attribute
{
    /// <summary>The state's name, unique within the grain type.</summary>
    public string StateName { get; } = stateName;
}
