namespace Orchestration.Runtime.Calls.Copying;

/// <summary>
/// One deep copy in progress: remembers every object already copied, so an object referenced twice is copied once
/// and cycles terminate. Not thread-safe; one per copy operation.
/// </summary>
internal sealed class CopyContext
{
    private readonly Dictionary<object, object> _copies = new(ReferenceEqualityComparer.Instance);

    /// <summary>The copy of <paramref name="value"/>: itself when its runtime type is immutable, else a deep copy.</summary>
    public object? Copy(object? value)
    {
        if (value is null)
        {
            return null;
        }

        var plan = DeepCopier.GetPlan(value.GetType());
        if (plan.IsShallow)
        {
            return value;
        }

        return _copies.TryGetValue(value, out var copy) ? copy : plan.Copy(value, this);
    }

    /// <summary>Registers <paramref name="copy"/> before its members are copied, so references back to
    /// <paramref name="original"/> inside the graph resolve to it.</summary>
    public void Record(object original, object copy) => _copies.Add(original, copy);
}
