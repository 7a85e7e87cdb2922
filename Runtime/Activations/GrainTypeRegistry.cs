using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Reflection;
using Orchestration.Runtime.Calls;

namespace Orchestration.Runtime.Activations;

/// <summary>Maps grain interfaces and grain type names to grain classes. Built once at start-up from the registered assemblies.</summary>
internal sealed class GrainTypeRegistry
{
    private readonly FrozenDictionary<string, GrainClassInfo> _classesByTypeName;
    private readonly FrozenDictionary<Type, GrainClassInfo> _classesByInterface;
    private readonly ConcurrentDictionary<(Type Interface, string TypeName), GrainInterfaceInfo> _interfaces = new();

    public GrainTypeRegistry(IEnumerable<Assembly> assemblies)
    {
        var classes = assemblies.Distinct()
            .SelectMany(assembly => assembly.GetTypes())
            .Where(type => type.IsClass && !type.IsAbstract && typeof(Grain).IsAssignableFrom(type) && !type.ContainsGenericParameters)
            .Select(type => new GrainClassInfo(type))
            .ToList();

        var duplicateName = classes.GroupBy(info => info.TypeName).FirstOrDefault(group => group.Count() > 1);
        if (duplicateName is not null)
        {
            throw new InvalidOperationException(
                $"Grain classes {string.Join(", ", duplicateName.Select(info => info.ClassType.FullName))} share the type name '{duplicateName.Key}'.");
        }

        _classesByTypeName = classes.ToFrozenDictionary(info => info.TypeName);

        // An interface implemented by exactly one class resolves to it; shared interfaces (IRemindable, …) need an explicit type.
        _classesByInterface = classes
            .SelectMany(info => info.ClassType.GetInterfaces()
                .Where(type => typeof(IGrain).IsAssignableFrom(type) && type != typeof(IGrain) && type != typeof(IGrainWithStringKey))
                .Select(type => (Interface: type, Class: info)))
            .GroupBy(pair => pair.Interface)
            .Where(group => group.Count() == 1)
            .ToFrozenDictionary(group => group.Key, group => group.Single().Class);
    }

    public IEnumerable<GrainClassInfo> Classes => _classesByTypeName.Values;

    public GrainClassInfo GetClass(string typeName) =>
        TryGetClass(typeName, out var info)
            ? info
            : throw new ArgumentException($"No grain class has the type name '{typeName}'.", nameof(typeName));

    public bool TryGetClass(string typeName, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out GrainClassInfo info) =>
        _classesByTypeName.TryGetValue(typeName, out info);

    public GrainInterfaceInfo GetInterface(Type interfaceType)
    {
        if (!_classesByInterface.TryGetValue(interfaceType, out var grainClass))
        {
            throw new ArgumentException(
                $"No single registered grain class implements {interfaceType.Name}; register its assembly with AddGrains, or name the grain type.",
                nameof(interfaceType));
        }

        return GetInterface(interfaceType, grainClass.TypeName);
    }

    public GrainInterfaceInfo GetInterface(Type interfaceType, string typeName) =>
        _interfaces.GetOrAdd((interfaceType, typeName), static (key, registry) =>
        {
            var grainClass = registry.GetClass(key.TypeName);
            if (!key.Interface.IsAssignableFrom(grainClass.ClassType))
            {
                throw new ArgumentException($"Grain type '{key.TypeName}' does not implement {key.Interface.Name}.");
            }

            return new GrainInterfaceInfo(key.Interface, grainClass);
        }, this);
}
