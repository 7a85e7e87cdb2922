using System.Reflection;
using System.Text;
using Orchestration.Runtime;

namespace Orchestration.Grains.Tests;

/// <summary>
/// The public surface of the contract assemblies is recorded in each project's <c>PublicAPI.Shipped.txt</c>, so every
/// change to it is a visible diff. On a mismatch the test writes <c>PublicAPI.received.txt</c> next to it.
/// </summary>
public sealed class PublicApiTests
{
    [Theory]
    [InlineData("Runtime.Abstractions")]
    [InlineData("Grains.Abstractions")]
    public void PublicApi_MatchesShippedFile(string project)
    {
        var assembly = project == "Runtime.Abstractions" ? typeof(IGrain).Assembly : typeof(GrainContractsJsonContext).Assembly;
        var folder = Path.Combine(RepositoryRoot(), project);
        var shippedPath = Path.Combine(folder, "PublicAPI.Shipped.txt");
        var actual = Describe(assembly);

        var shipped = File.Exists(shippedPath) ? File.ReadAllText(shippedPath) : string.Empty;
        if (shipped != actual)
        {
            File.WriteAllText(Path.Combine(folder, "PublicAPI.received.txt"), actual);
        }

        Assert.True(shipped == actual, $"The public API of {project} changed. Review {project}/PublicAPI.received.txt and, if intended, copy it over PublicAPI.Shipped.txt.");
    }

    private static string Describe(Assembly assembly)
    {
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes())
        {
            lines.Add($"{Kind(type)} {type.FullName}{Bases(type)}");
            const BindingFlags flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var member in type.GetMembers(flags | BindingFlags.NonPublic).Where(IsVisible))
            {
                lines.Add($"{type.FullName}::{Describe(member)}");
            }
        }

        lines.Sort(StringComparer.Ordinal);
        var text = new StringBuilder();
        foreach (var line in lines)
        {
            text.Append(line).Append('\n');
        }

        return text.ToString();
    }

    private static bool IsVisible(MemberInfo member) => member switch
    {
        MethodBase method => (method.IsPublic || method.IsFamily || method.IsFamilyOrAssembly) && !method.IsSpecialName || method is ConstructorInfo { IsPublic: true } or ConstructorInfo { IsFamily: true },
        PropertyInfo property => property.GetAccessors(nonPublic: true).Any(accessor => accessor.IsPublic || accessor.IsFamily),
        FieldInfo field => field.IsPublic || field.IsFamily,
        EventInfo e => e.AddMethod is { IsPublic: true },
        _ => false,
    };

    private static string Describe(MemberInfo member) => member switch
    {
        ConstructorInfo constructor => $".ctor({Parameters(constructor)})",
        MethodInfo method => $"{(method.IsStatic ? "static " : string.Empty)}{(method.IsFamily ? "protected " : string.Empty)}{(method.IsVirtual && !method.IsFinal ? "virtual " : string.Empty)}{Name(method.ReturnType)} {method.Name}({Parameters(method)})",
        PropertyInfo property => $"{Name(property.PropertyType)} {property.Name} {{ {(property.GetMethod is { } get && (get.IsPublic || get.IsFamily) ? "get; " : string.Empty)}{(property.SetMethod is { } set && (set.IsPublic || set.IsFamily) ? "set; " : string.Empty)}}}",
        FieldInfo field => $"{(field.IsLiteral ? "const " : field.IsStatic ? "static " : string.Empty)}{Name(field.FieldType)} {field.Name}",
        EventInfo e => $"event {Name(e.EventHandlerType!)} {e.Name}",
        _ => member.Name,
    };

    private static string Parameters(MethodBase method) =>
        string.Join(", ", method.GetParameters().Select(parameter => $"{Name(parameter.ParameterType)} {parameter.Name}"));

    private static string Kind(Type type) =>
        type.IsInterface ? "interface" : type.IsEnum ? "enum" : type.IsValueType ? "struct" : type.IsAbstract && type.IsSealed ? "static class" : type.IsAbstract ? "abstract class" : type.IsSealed ? "sealed class" : "class";

    private static string Bases(Type type)
    {
        var bases = new List<string>();
        if (type.BaseType is { } baseType && baseType != typeof(object) && baseType != typeof(ValueType) && baseType != typeof(Enum))
        {
            bases.Add(Name(baseType));
        }

        bases.AddRange(type.GetInterfaces().Select(Name).Order(StringComparer.Ordinal));
        return bases.Count == 0 ? string.Empty : " : " + string.Join(", ", bases);
    }

    private static string Name(Type type) =>
        type.IsGenericType
            ? $"{type.Namespace}.{type.Name[..type.Name.IndexOf('`')]}<{string.Join(", ", type.GetGenericArguments().Select(Name))}>"
            : type.IsGenericParameter ? type.Name : type.FullName ?? type.Name;

    private static string RepositoryRoot() =>
        Path.GetFullPath(typeof(PublicApiTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "repository-root").Value!);
}
