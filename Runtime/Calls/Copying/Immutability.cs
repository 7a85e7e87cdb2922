using System.Collections.Concurrent;
using System.Numerics;
using System.Reflection;
using System.Text.Json;

namespace Orchestration.Runtime.Calls.Copying;

/// <summary>
/// Decides which types can cross a grain call by reference. Two questions, both cached per type:
/// <see cref="IsShallowCopyable(Type)"/> (every value whose declared type is this one, whatever its runtime type) and
/// <see cref="IsExactTypeShallowCopyable"/> (a value whose runtime type is exactly this one).
/// </summary>
internal static class Immutability
{
    private const BindingFlags InstanceFields = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;

    // Types whose instances, and the instances of every type derived from them, are passed as is.
    private static readonly Type[] s_shallowFamilies =
    [
        typeof(IGrain), typeof(MemberInfo), typeof(Assembly), typeof(Module), typeof(Delegate), typeof(Task), typeof(Uri),
    ];

    // Exact types that are immutable but would not pass the field rule (a mutable-looking field, an array inside).
    private static readonly HashSet<Type> s_shallowTypes =
    [
        typeof(string), typeof(decimal), typeof(DateTime), typeof(DateTimeOffset), typeof(TimeSpan), typeof(DateOnly),
        typeof(TimeOnly), typeof(Guid), typeof(Version), typeof(BigInteger), typeof(CancellationToken),
        typeof(ValueTask), typeof(JsonElement), typeof(JsonDocument), typeof(object),
    ];

    private static readonly ConcurrentDictionary<Type, bool> s_exact = new();

    /// <summary>True when every value assignable to <paramref name="declaredType"/> can be passed as is.</summary>
    /// <remarks>A non-sealed class can be subclassed with mutable fields, so only sealed and value types (and whole
    /// families such as grain interfaces and delegates) can answer yes without seeing the value.</remarks>
    public static bool IsShallowCopyable(Type declaredType)
    {
        ArgumentNullException.ThrowIfNull(declaredType);
        return ClosedUnderDerivation(declaredType) && IsExactTypeShallowCopyable(declaredType);
    }

    /// <summary>True when a value whose runtime type is exactly <paramref name="type"/> can be passed as is.</summary>
    public static bool IsExactTypeShallowCopyable(Type type)
    {
        if (s_exact.TryGetValue(type, out var known))
        {
            return known;
        }

        var results = new Dictionary<Type, bool>();
        var result = Evaluate(type, [], results);

        // A "true" reached while a type further up the stack was assumed immutable is only sound if that assumption
        // held, which the root's own result confirms (falsity propagates up the stack). "False" is always sound.
        foreach (var (evaluated, evaluatedResult) in results)
        {
            if (result || !evaluatedResult)
            {
                s_exact.TryAdd(evaluated, evaluatedResult);
            }
        }

        return result;
    }

    /// <summary>True when <paramref name="member"/> (a field, property, parameter or return value) carries [Immutable].</summary>
    public static bool IsMarkedImmutable(ICustomAttributeProvider member) =>
        member.IsDefined(typeof(ImmutableAttribute), inherit: false);

    /// <summary>True when the field, or the auto-property it backs, carries [Immutable].</summary>
    public static bool IsMarkedImmutable(FieldInfo field)
    {
        if (IsMarkedImmutable((ICustomAttributeProvider)field))
        {
            return true;
        }

        // Auto-property backing fields are named "<Name>k__BackingField".
        var name = field.Name;
        if (name.Length > 0 && name[0] == '<' && name.EndsWith(">k__BackingField", StringComparison.Ordinal))
        {
            var property = field.DeclaringType!.GetProperty(name[1..name.IndexOf('>')], InstanceFields);
            return property is not null && IsMarkedImmutable((ICustomAttributeProvider)property);
        }

        return false;
    }

    /// <summary>All instance fields of <paramref name="type"/> and its base types.</summary>
    public static IEnumerable<FieldInfo> AllInstanceFields(Type type)
    {
        for (var current = type; current is not null && current != typeof(object); current = current.BaseType)
        {
            foreach (var field in current.GetFields(InstanceFields))
            {
                yield return field;
            }
        }
    }

    private static bool ClosedUnderDerivation(Type type) =>
        type.IsValueType || type.IsSealed || type.IsPointer || IsInShallowFamily(type);

    private static bool IsInShallowFamily(Type type)
    {
        foreach (var family in s_shallowFamilies)
        {
            if (family.IsAssignableFrom(type))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Evaluate(Type type, HashSet<Type> inProgress, Dictionary<Type, bool> results)
    {
        if (s_exact.TryGetValue(type, out var known) || results.TryGetValue(type, out known))
        {
            return known;
        }

        // A cycle in the type graph (a record referring to itself): assume immutable; a mutable field anywhere on the
        // cycle still makes every type on it mutable, because falsity propagates back up to the type assumed here.
        if (!inProgress.Add(type))
        {
            return true;
        }

        var result = Compute(type, inProgress, results);
        inProgress.Remove(type);
        results[type] = result;
        return result;
    }

    private static bool Compute(Type type, HashSet<Type> inProgress, Dictionary<Type, bool> results)
    {
        if (type.IsPrimitive || type.IsEnum || type.IsPointer || s_shallowTypes.Contains(type) || IsInShallowFamily(type))
        {
            return true;
        }

        if (type.IsArray || type.IsByRefLike || type.ContainsGenericParameters || type.IsInterface || type.IsAbstract)
        {
            return false;
        }

        if (type.IsDefined(typeof(ImmutableAttribute), inherit: false))
        {
            return true;
        }

        if (type.IsGenericType)
        {
            var definition = type.GetGenericTypeDefinition();
            if (definition == typeof(ValueTask<>))
            {
                return true;
            }

            if (IsImmutableCollection(type))
            {
                foreach (var argument in type.GetGenericArguments())
                {
                    if (!IsShallowCopyable(argument, inProgress, results))
                    {
                        return false;
                    }
                }

                return true;
            }
        }

        // A struct is copied by value, so its own fields may be writable; a class is shared, so they may not.
        var requireReadonly = !type.IsValueType;
        foreach (var field in AllInstanceFields(type))
        {
            if (requireReadonly && !field.IsInitOnly)
            {
                return false;
            }

            if (!IsMarkedImmutable(field) && !IsShallowCopyable(field.FieldType, inProgress, results))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsShallowCopyable(Type declaredType, HashSet<Type> inProgress, Dictionary<Type, bool> results) =>
        ClosedUnderDerivation(declaredType) && Evaluate(declaredType, inProgress, results);

    // ImmutableArray<T>, ImmutableList<T>, ImmutableDictionary<K,V>, …; not their nested Builder and Enumerator types.
    private static bool IsImmutableCollection(Type type) =>
        type.Namespace == "System.Collections.Immutable" && !type.IsNested &&
        type.Name.StartsWith("Immutable", StringComparison.Ordinal) &&
        type.Assembly == typeof(System.Collections.Immutable.ImmutableArray).Assembly;
}
