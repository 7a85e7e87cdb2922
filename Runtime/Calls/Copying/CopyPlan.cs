using System.Reflection;
using System.Text.Json.Nodes;

namespace Orchestration.Runtime.Calls.Copying;

/// <summary>How to copy a value of one exact runtime type. Built once per type and cached by <see cref="DeepCopier"/>.</summary>
internal abstract class CopyPlan
{
    /// <summary>The value is immutable: pass it as is.</summary>
    public static readonly CopyPlan Shallow = new ShallowPlan();

    /// <summary>True when values of this type are passed as is and <see cref="Copy"/> is never called.</summary>
    public virtual bool IsShallow => false;

    /// <summary>Deep-copies <paramref name="original"/>, recording the copy in <paramref name="context"/> before
    /// copying anything it refers to.</summary>
    public abstract object Copy(object original, CopyContext context);

    public static CopyPlan CreateFor(Type type)
    {
        if (Immutability.IsExactTypeShallowCopyable(type))
        {
            return Shallow;
        }

        if (type.IsArray)
        {
            return ArrayPlan.CreateForArray(type);
        }

        if (typeof(JsonNode).IsAssignableFrom(type))
        {
            return new JsonNodePlan();
        }

        if (type.IsGenericType)
        {
            var definition = type.GetGenericTypeDefinition();
            // Field by field would keep the buckets of the original, which are wrong for keys hashed by identity.
            if (definition == typeof(Dictionary<,>))
            {
                return (CopyPlan)Activator.CreateInstance(typeof(DictionaryPlan<,>).MakeGenericType(type.GetGenericArguments()))!;
            }

            if (definition == typeof(HashSet<>))
            {
                return (CopyPlan)Activator.CreateInstance(typeof(HashSetPlan<>).MakeGenericType(type.GetGenericArguments()))!;
            }
        }

        return new FieldPlan(type);
    }

    private sealed class ShallowPlan : CopyPlan
    {
        public override bool IsShallow => true;

        public override object Copy(object original, CopyContext context) => original;
    }
}

/// <summary>Classes and boxed structs: a memberwise clone, then a deep copy of each field whose type is not immutable.</summary>
internal sealed class FieldPlan : CopyPlan
{
    private static readonly Func<object, object> s_memberwiseClone = typeof(object)
        .GetMethod("MemberwiseClone", BindingFlags.Instance | BindingFlags.NonPublic)!
        .CreateDelegate<Func<object, object>>();

    private readonly FieldInfo[] _fieldsToCopy;

    public FieldPlan(Type type) =>
        _fieldsToCopy = Immutability.AllInstanceFields(type)
            .Where(field => !Immutability.IsMarkedImmutable(field) && !Immutability.IsShallowCopyable(field.FieldType))
            .ToArray();

    public override object Copy(object original, CopyContext context)
    {
        // On a boxed struct this clones the box, and SetValue below writes into the new box.
        var copy = s_memberwiseClone(original);
        context.Record(original, copy);
        foreach (var field in _fieldsToCopy)
        {
            field.SetValue(copy, context.Copy(field.GetValue(original)));
        }

        return copy;
    }
}

/// <summary>Single-dimensional arrays element by element; multi-dimensional ones only when their elements are immutable.</summary>
internal sealed class ArrayPlan : CopyPlan
{
    private readonly bool _elementsShallow;
    private readonly bool _elementsAreReferences;

    private ArrayPlan(bool elementsShallow, bool elementsAreReferences)
    {
        _elementsShallow = elementsShallow;
        _elementsAreReferences = elementsAreReferences;
    }

    public static CopyPlan CreateForArray(Type arrayType)
    {
        var elementType = arrayType.GetElementType()!;
        var elementsShallow = Immutability.IsShallowCopyable(elementType);
        if (!arrayType.IsSZArray && !elementsShallow)
        {
            return new UnsupportedPlan(
                $"Grain call arguments and results of type {arrayType} cannot be copied: multi-dimensional arrays are " +
                $"only supported when their element type is immutable. Use a jagged array or mark {elementType} [Immutable].");
        }

        return new ArrayPlan(elementsShallow, !elementType.IsValueType);
    }

    public override object Copy(object original, CopyContext context)
    {
        var source = (Array)original;
        var copy = (Array)source.Clone();
        context.Record(original, copy);
        if (_elementsShallow)
        {
            return copy;
        }

        if (_elementsAreReferences)
        {
            // Array covariance: any array of a reference element type is an object[] for reading and, since each copy
            // has the runtime type of its original, for writing too.
            var target = (object?[])copy;
            for (var i = 0; i < target.Length; i++)
            {
                target[i] = context.Copy(target[i]);
            }
        }
        else
        {
            for (var i = 0; i < copy.Length; i++)
            {
                copy.SetValue(context.Copy(copy.GetValue(i)), i);
            }
        }

        return copy;
    }
}

internal sealed class DictionaryPlan<TKey, TValue> : CopyPlan
    where TKey : notnull
{
    private static readonly bool s_keysShallow = Immutability.IsShallowCopyable(typeof(TKey));
    private static readonly bool s_valuesShallow = Immutability.IsShallowCopyable(typeof(TValue));

    public override object Copy(object original, CopyContext context)
    {
        var source = (Dictionary<TKey, TValue>)original;
        // The comparer is shared: comparers are stateless in practice, and copying one would break identity checks
        // such as the dictionary's own special case for the default string comparer.
        var copy = new Dictionary<TKey, TValue>(source.Count, source.Comparer);
        context.Record(original, copy);
        foreach (var (key, value) in source)
        {
            copy.Add(
                s_keysShallow ? key : (TKey)context.Copy(key)!,
                s_valuesShallow ? value : (TValue)context.Copy(value)!);
        }

        return copy;
    }
}

internal sealed class HashSetPlan<T> : CopyPlan
{
    private static readonly bool s_itemsShallow = Immutability.IsShallowCopyable(typeof(T));

    public override object Copy(object original, CopyContext context)
    {
        var source = (HashSet<T>)original;
        var copy = new HashSet<T>(source.Count, source.Comparer);
        context.Record(original, copy);
        foreach (var item in source)
        {
            copy.Add(s_itemsShallow ? item : (T)context.Copy(item)!);
        }

        return copy;
    }
}

/// <summary>JsonObject, JsonArray, JsonValue: mutable trees with parent links; the library's own deep clone.</summary>
internal sealed class JsonNodePlan : CopyPlan
{
    public override object Copy(object original, CopyContext context)
    {
        var copy = ((JsonNode)original).DeepClone();
        context.Record(original, copy);
        return copy;
    }
}

internal sealed class UnsupportedPlan(string message) : CopyPlan
{
    public override object Copy(object original, CopyContext context) => throw new NotSupportedException(message);
}
