using System.Collections.Frozen;
using System.Reflection;
using Orchestration.Runtime.Activations;

namespace Orchestration.Runtime.Calls;

/// <summary>A grain interface, the class that implements it, and its methods.</summary>
internal sealed class GrainInterfaceInfo
{
    private readonly FrozenDictionary<MethodInfo, GrainMethod> _methods;

    public GrainInterfaceInfo(Type interfaceType, GrainClassInfo grainClass)
    {
        InterfaceType = interfaceType;
        GrainClass = grainClass;
        _methods = interfaceType.GetInterfaces().Append(interfaceType)
            .Where(type => typeof(IGrain).IsAssignableFrom(type))
            .SelectMany(type => type.GetMethods())
            .Distinct()
            .ToFrozenDictionary(method => method, GrainMethod.ForInterfaceMethod);
    }

    public Type InterfaceType { get; }

    public IEnumerable<GrainMethod> Methods => _methods.Values;

    public GrainClassInfo GrainClass { get; }

    public GrainMethod GetMethod(MethodInfo method) =>
        _methods.TryGetValue(method, out var grainMethod)
            ? grainMethod
            : throw new ArgumentException($"{method.Name} is not a method of {InterfaceType.Name}.", nameof(method));
}
