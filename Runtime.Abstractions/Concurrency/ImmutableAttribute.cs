namespace Orchestration.Runtime;

/// <summary>
/// Declares that values are never mutated after they are created, so in-process grain calls pass them by reference
/// instead of deep-copying them.
/// </summary>
/// <remarks>
/// <para>
/// Arguments and results of grain calls are isolated: unless a value is immutable, the runtime deep-copies it, so a
/// caller can never change a grain's state through an object it passed or received (nor a grain its caller's).
/// Records and classes whose fields are all <see langword="readonly"/> (init-only properties included) and of
/// immutable types are recognized without this attribute; use it for types the runtime cannot prove immutable, such
/// as a class that hides a private array it never writes.
/// </para>
/// <para>
/// On a class or struct the promise covers that exact type, not types derived from it: an instance of a derived class
/// is judged on its own. On a field, or an auto-property (its backing field), the value stored there is passed as is.
/// On a grain interface method's parameter or return value, that argument or result is passed as is.
/// Breaking the promise silently shares state across activations. The attribute has no properties.
/// </para>
/// </remarks>
[AttributeUsage(
    AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Field | AttributeTargets.Property |
    AttributeTargets.Parameter | AttributeTargets.ReturnValue,
    Inherited = false)]
public sealed class ImmutableAttribute : Attribute;
