using System.Linq.Expressions;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime.Streams;

namespace Orchestration.Runtime.Activations;

/// <summary>What the runtime knows about one grain class: its type name, concurrency, subscriptions and how to construct it.</summary>
internal sealed class GrainClassInfo
{
    private readonly Func<IServiceProvider, ActivationData, Grain> _create;

    public GrainClassInfo(Type classType)
    {
        if (!typeof(Grain).IsAssignableFrom(classType) || classType.IsAbstract)
        {
            throw new ArgumentException($"{classType.Name} must be a concrete subclass of Grain.", nameof(classType));
        }

        ClassType = classType;
        TypeName = ToTypeName(classType);
        IsReentrant = classType.GetCustomAttribute<ReentrantAttribute>() is not null;
        ImplicitSubscriptions = classType.GetCustomAttributes<ImplicitStreamSubscriptionAttribute>()
            .Select(attribute => attribute.StreamNamespace)
            .ToArray();
        if (ImplicitSubscriptions.Count > 0 && !typeof(IStreamConsumerGrain).IsAssignableFrom(classType))
        {
            throw new ArgumentException($"{classType.Name} subscribes to streams, so it must implement {nameof(IStreamConsumerGrain)}.");
        }

        _create = CompileFactory(classType);
    }

    public Type ClassType { get; }

    /// <summary>The grain type name used in grain ids and storage keys (see <see cref="ToTypeName"/>).</summary>
    public string TypeName { get; }

    public bool IsReentrant { get; }

    public IReadOnlyList<string> ImplicitSubscriptions { get; }

    public Grain Create(IServiceProvider services, ActivationData activation) =>
        Grain.CreateWithContext(activation, () => _create(services, activation));

    /// <summary>The <see cref="GrainTypeAttribute"/> name if pinned, else the class name without "Grain", lower-cased.</summary>
    public static string ToTypeName(Type classType)
    {
        if (classType.GetCustomAttribute<GrainTypeAttribute>() is { } pinned)
        {
            if (!IsValidTypeName(pinned.Name))
            {
                throw new ArgumentException(
                    $"{classType.Name}: [GrainType(\"{pinned.Name}\")] must be lower-case letters, digits, '-' or '.', starting with a letter.");
            }

            return pinned.Name;
        }

        var name = classType.Name;
        if (name.EndsWith("Grain", StringComparison.Ordinal) && name.Length > "Grain".Length)
        {
            name = name[..^"Grain".Length];
        }

        return name.ToLowerInvariant();
    }

    private static bool IsValidTypeName(string name) =>
        name.Length > 0 && char.IsAsciiLetterLower(name[0])
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.');

    private static Func<IServiceProvider, ActivationData, Grain> CompileFactory(Type classType)
    {
        var constructors = classType.GetConstructors();
        if (constructors.Length != 1)
        {
            throw new ArgumentException($"{classType.Name} must have exactly one public constructor.");
        }

        var services = Expression.Parameter(typeof(IServiceProvider), "services");
        var activation = Expression.Parameter(typeof(ActivationData), "activation");
        var names = new List<string>();
        var arguments = constructors[0].GetParameters().Select(parameter =>
        {
            var stateAttribute = parameter.GetCustomAttribute<PersistentStateAttribute>();
            if (stateAttribute is null)
            {
                return (Expression)Expression.Convert(
                    Expression.Call(typeof(ServiceProviderServiceExtensions), nameof(ServiceProviderServiceExtensions.GetRequiredService),
                        null, services, Expression.Constant(parameter.ParameterType)),
                    parameter.ParameterType);
            }

            if (!parameter.ParameterType.IsGenericType || parameter.ParameterType.GetGenericTypeDefinition() != typeof(IPersistentState<>))
            {
                throw new ArgumentException($"{classType.Name}: [PersistentState] parameter '{parameter.Name}' must be an IPersistentState<T>.");
            }

            if (names.Contains(stateAttribute.StateName))
            {
                throw new ArgumentException($"{classType.Name} declares state '{stateAttribute.StateName}' twice.");
            }

            names.Add(stateAttribute.StateName);
            var stateType = parameter.ParameterType.GetGenericArguments()[0];
            return Expression.Call(activation, nameof(ActivationData.BindState), [stateType], Expression.Constant(stateAttribute.StateName));
        }).ToArray();

        var body = Expression.New(constructors[0], arguments);
        return Expression.Lambda<Func<IServiceProvider, ActivationData, Grain>>(body, services, activation).Compile();
    }
}
