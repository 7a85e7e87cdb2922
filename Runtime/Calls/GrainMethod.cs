using System.Linq.Expressions;
using System.Reflection;
using Orchestration.Runtime.Calls.Copying;

namespace Orchestration.Runtime.Calls;

/// <summary>
/// One callable method of a grain: how to invoke it on an instance, and how a caller sends it.
/// Built once per interface method with compiled expressions, so a call costs a delegate invocation, not reflection.
/// </summary>
internal sealed class GrainMethod
{
    private static readonly MethodInfo s_sendTyped =
        typeof(GrainMethod).GetMethod(nameof(SendTyped), BindingFlags.NonPublic | BindingFlags.Static)!;

    private static readonly MethodInfo s_resultOf =
        typeof(GrainMethod).GetMethod(nameof(ResultOf), BindingFlags.NonPublic | BindingFlags.Static)!;

    private GrainMethod(string name, bool alwaysInterleave, bool keepsAlive, Func<object, object?[], Task> invoke, Func<GrainCallDispatcher, GrainId, GrainMethod, object?[], Task>? send)
    {
        Name = name;
        AlwaysInterleave = alwaysInterleave;
        KeepsAlive = keepsAlive;
        Invoke = invoke;
        IsCallback = send is null;
        Send = send ?? ((_, _, _, _) => throw new InvalidOperationException($"{name} cannot be sent."));
    }

    /// <summary><c>Interface.Method</c>, as shown in traces, metrics and timeout errors.</summary>
    public string Name { get; }

    public bool AlwaysInterleave { get; }

    /// <summary>A timer tick: the runtime's own turn with no caller waiting, bound to one activation's instance.</summary>
    public bool IsCallback { get; }

    /// <summary>Whether some argument may be mutable, so arguments are deep-copied when sent (decided once per method).</summary>
    public bool CopiesArguments { get; private init; }

    /// <summary>Whether the result may be mutable, so it is deep-copied before the caller sees it.</summary>
    public bool CopiesResult { get; private init; }

    /// <summary>Whether running it counts as activity for idle collection (timer ticks do not, unless asked to).</summary>
    public bool KeepsAlive { get; }

    /// <summary>Runs the method on a grain instance.</summary>
    public Func<object, object?[], Task> Invoke { get; }

    /// <summary>
    /// The method's name between processes: interface, method and parameter types (full names), so overloads differ and
    /// a rename is a visible break. Empty for timer callbacks, which never leave their activation.
    /// </summary>
    public string WireName
    {
        get;
        private init
        {
            field = value;
            Utf8WireName = System.Text.Encoding.UTF8.GetBytes(value);
        }
    } = string.Empty;

    /// <summary><see cref="WireName"/> in UTF-8, encoded once rather than per call.</summary>
    public ReadOnlyMemory<byte> Utf8WireName { get; private set; }

    public IReadOnlyList<Type> ParameterTypes { get; private init; } = [];

    /// <summary>The result's type; null for a method returning a plain <see cref="Task"/>.</summary>
    public Type? ResultType { get; private init; }

    /// <summary>Reads the result of a completed call's task (null for a plain <see cref="Task"/>).</summary>
    public Func<Task, object?> ReadResult { get; private init; } = static _ => null;

    /// <summary>Sends a call and returns the caller's task (a <c>Task&lt;TResult&gt;</c> for methods with a result).</summary>
    public Func<GrainCallDispatcher, GrainId, GrainMethod, object?[], Task> Send { get; }

    public static GrainMethod ForInterfaceMethod(MethodInfo method)
    {
        var returnType = method.ReturnType;
        Type resultType;
        if (returnType == typeof(Task))
        {
            resultType = typeof(object);
        }
        else if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(Task<>))
        {
            resultType = returnType.GetGenericArguments()[0];
        }
        else
        {
            throw new NotSupportedException(
                $"{method.DeclaringType!.Name}.{method.Name} returns {returnType.Name}; grain methods return Task or Task<T>.");
        }

        var send = (Func<GrainCallDispatcher, GrainId, GrainMethod, object?[], Task>)s_sendTyped
            .MakeGenericMethod(resultType)
            .CreateDelegate(typeof(Func<GrainCallDispatcher, GrainId, GrainMethod, object?[], Task>));

        return new GrainMethod(
            $"{method.DeclaringType!.Name}.{method.Name}",
            method.GetCustomAttribute<AlwaysInterleaveAttribute>() is not null,
            keepsAlive: true,
            CompileInvoker(method),
            send)
        {
            WireName = $"{method.DeclaringType!.FullName}.{method.Name}({string.Join(",", method.GetParameters().Select(parameter => parameter.ParameterType.FullName))})",
            ParameterTypes = [.. method.GetParameters().Select(parameter => parameter.ParameterType)],
            ResultType = returnType == typeof(Task) ? null : resultType,
            ReadResult = returnType == typeof(Task)
                ? static _ => null
                : (Func<Task, object?>)s_resultOf.MakeGenericMethod(resultType).CreateDelegate(typeof(Func<Task, object?>)),
            // Isolation as in Orleans: a caller and a grain never share a mutable object through a call.
            CopiesArguments = method.GetParameters().Any(parameter =>
                !DeepCopier.IsShallowCopyable(parameter.ParameterType) && !DeepCopier.IsMarkedImmutable(parameter)),
            CopiesResult = returnType != typeof(Task)
                && !DeepCopier.IsShallowCopyable(resultType) && !DeepCopier.IsMarkedImmutable(method.ReturnParameter),
        };
    }

    public static GrainMethod ForCallback(string name, bool interleave, bool keepsAlive, Func<object, object?[], Task> invoke) =>
        new(name, interleave, keepsAlive, invoke, send: null);

    private static object? ResultOf<TResult>(Task completed) => ((Task<TResult>)completed).Result;

    private static Task SendTyped<TResult>(GrainCallDispatcher dispatcher, GrainId target, GrainMethod method, object?[] arguments) =>
        dispatcher.InvokeAsync<TResult>(target, method, arguments);

    private static Func<object, object?[], Task> CompileInvoker(MethodInfo method)
    {
        var grain = Expression.Parameter(typeof(object), "grain");
        var arguments = Expression.Parameter(typeof(object?[]), "arguments");
        var parameters = method.GetParameters();
        var typedArguments = new Expression[parameters.Length];
        for (var i = 0; i < parameters.Length; i++)
        {
            typedArguments[i] = Expression.Convert(
                Expression.ArrayIndex(arguments, Expression.Constant(i)), parameters[i].ParameterType);
        }

        var call = Expression.Call(Expression.Convert(grain, method.DeclaringType!), method, typedArguments);
        return Expression.Lambda<Func<object, object?[], Task>>(Expression.Convert(call, typeof(Task)), grain, arguments).Compile();
    }
}
