using System.Collections.Concurrent;
using System.Reflection;

namespace Orchestration.Runtime.Calls.Copying;

/// <summary>
/// Isolates the arguments and results of in-process grain calls: immutable values are passed as is, everything else
/// is deep-copied, preserving shared references and cycles within one copy. See <see cref="Immutability"/> for what
/// counts as immutable.
/// </summary>
internal static class DeepCopier
{
    private static readonly ConcurrentDictionary<Type, CopyPlan> s_plans = new();
    private static readonly Func<Type, CopyPlan> s_createPlan = CopyPlan.CreateFor;

    /// <summary>
    /// True when every value assignable to <paramref name="declaredType"/> can be passed as is, so a call path whose
    /// parameter and result types all answer yes needs no copying at all. False for non-sealed classes, interfaces and
    /// <see cref="object"/> even when the runtime value may turn out immutable: <see cref="Copy(object?)"/> decides those.
    /// </summary>
    public static bool IsShallowCopyable(Type declaredType) => Immutability.IsShallowCopyable(declaredType);

    /// <summary>True when a grain method parameter or return value (<see cref="MethodInfo.ReturnParameter"/>) carries
    /// <see cref="ImmutableAttribute"/>, so its value is passed as is whatever its type.</summary>
    public static bool IsMarkedImmutable(ParameterInfo parameter) => Immutability.IsMarkedImmutable(parameter);

    /// <summary>The value itself when its runtime type is immutable, else a deep copy.</summary>
    /// <exception cref="NotSupportedException">The graph holds a multi-dimensional array of mutable elements.</exception>
    public static object? Copy(object? value)
    {
        if (value is null or string)
        {
            return value;
        }

        var plan = GetPlan(value.GetType());
        return plan.IsShallow ? value : plan.Copy(value, new CopyContext());
    }

    /// <inheritdoc cref="Copy(object?)"/>
    public static T Copy<T>(T value) =>
        ShallowType<T>.IsShallow ? value : (T)Copy((object?)value)!;

    /// <summary>
    /// Replaces each element of <paramref name="values"/> (a call's arguments) by its copy. One copy operation spans
    /// all of them, so an object passed twice arrives as one copied object.
    /// </summary>
    public static void CopyElements(object?[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        CopyContext? context = null;
        for (var i = 0; i < values.Length; i++)
        {
            var value = values[i];
            if (value is null or string || GetPlan(value.GetType()).IsShallow)
            {
                continue;
            }

            context ??= new CopyContext();
            values[i] = context.Copy(value);
        }
    }

    internal static CopyPlan GetPlan(Type runtimeType) =>
        s_plans.TryGetValue(runtimeType, out var plan) ? plan : s_plans.GetOrAdd(runtimeType, s_createPlan);

    // Per closed T, so the JIT folds the check away for immutable value types.
    private static class ShallowType<T>
    {
        public static readonly bool IsShallow = Immutability.IsShallowCopyable(typeof(T));
    }
}
