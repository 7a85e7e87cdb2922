using System.Reflection;
using System.Text.Json;

namespace Orchestration.Runtime.Calls.Remote;

/// <summary>
/// Exceptions across processes: the type's name, the message and the exception's own public properties go over the
/// wire; the caller rebuilds the same type through a public constructor whose parameters match those properties by
/// name (as <c>OrchestrationException(code, message)</c>), so callers catch what the grain threw. A type that cannot be
/// rebuilt arrives as <see cref="RemoteGrainException"/> with the original type name and message.
/// </summary>
internal static class RemoteExceptions
{
    public static RemoteCallResponse Describe(Exception exception, JsonSerializerOptions options)
    {
        var data = new Dictionary<string, JsonElement>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in OwnProperties(exception.GetType()))
        {
            try
            {
                data[property.Name] = JsonSerializer.SerializeToElement(property.GetValue(exception), property.PropertyType, options);
            }
            catch (Exception)
            {
                // A property that does not serialise is left out; the constructor match then falls back.
            }
        }

        return new RemoteCallResponse(RemoteCallOutcome.Failed, ExceptionType: exception.GetType().AssemblyQualifiedName,
            Message: exception.Message, ExceptionData: data);
    }

    public static Exception Rebuild(RemoteCallResponse response, JsonSerializerOptions options)
    {
        var typeName = response.ExceptionType ?? "Exception";
        var message = response.Message ?? string.Empty;
        if (Type.GetType(typeName, throwOnError: false) is { } type && typeof(Exception).IsAssignableFrom(type))
        {
            // Case-insensitive: property Code meets constructor parameter code.
            var data = new Dictionary<string, JsonElement>(response.ExceptionData ?? [], StringComparer.OrdinalIgnoreCase);
            foreach (var constructor in type.GetConstructors().OrderByDescending(constructor => constructor.GetParameters().Length))
            {
                if (TryConstruct(constructor, data, message, options) is { } rebuilt && rebuilt.Message == message)
                {
                    return rebuilt;
                }
            }
        }

        return new RemoteGrainException(typeName.Split(',')[0], message);
    }

    private static Exception? TryConstruct(ConstructorInfo constructor, Dictionary<string, JsonElement> data, string message, JsonSerializerOptions options)
    {
        var parameters = constructor.GetParameters();
        var arguments = new object?[parameters.Length];
        for (var i = 0; i < parameters.Length; i++)
        {
            var parameter = parameters[i];
            if (parameter.Name is "message" && parameter.ParameterType == typeof(string))
            {
                arguments[i] = message;
            }
            else if (parameter.Name is { } name && data.TryGetValue(name, out var value))
            {
                try
                {
                    arguments[i] = value.Deserialize(parameter.ParameterType, options);
                }
                catch (JsonException)
                {
                    return null;
                }
            }
            else
            {
                return null;
            }
        }

        try
        {
            return (Exception)constructor.Invoke(arguments);
        }
        catch (TargetInvocationException)
        {
            return null;
        }
    }

    private static IEnumerable<PropertyInfo> OwnProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(property => property.DeclaringType != typeof(Exception) && property.GetIndexParameters().Length == 0 && property.CanRead);
}

/// <summary>A grain in another process threw an exception this process cannot rebuild; its type name and message.</summary>
internal sealed class RemoteGrainException(string remoteType, string message) : Exception($"{remoteType}: {message}")
{
    public string RemoteType { get; } = remoteType;
}
