namespace Orchestration.Runtime;

/// <summary>
/// Pins a grain class's type name: the name in its grain ids, its stored state rows, reminders and stream
/// subscriptions. Without it the name comes from the class name ("CounterGrain" → "counter"), so renaming the class
/// would orphan everything stored under the old name; with it, the class can be renamed freely. As Orleans' [GrainType].
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class GrainTypeAttribute : Attribute
{
    /// <summary>Pins the type name to <paramref name="name"/>: lower-case letters, digits, '-' and '.', starting with a letter.</summary>
    public GrainTypeAttribute(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
    }

    /// <summary>The pinned type name.</summary>
    public string Name { get; }
}
