using System.Reflection;

namespace Orchestration.Runtime.Calls;

/// <summary>
/// A grain reference: implements the grain interface and turns every call into target + method + arguments.
/// </summary>
/// <remarks>Must stay a non-sealed class with a public parameterless constructor: DispatchProxy derives from it.</remarks>
internal class GrainProxy : DispatchProxy
{
    private GrainCallDispatcher _dispatcher = null!;
    private GrainInterfaceInfo _interface = null!;

    internal GrainId GrainId { get; private set; }

    internal static TGrainInterface Create<TGrainInterface>(GrainCallDispatcher dispatcher, GrainInterfaceInfo grainInterface, GrainId grainId)
    {
        var proxy = DispatchProxy.Create<TGrainInterface, GrainProxy>();
        var self = (GrainProxy)(object)proxy!;
        self._dispatcher = dispatcher;
        self._interface = grainInterface;
        self.GrainId = grainId;
        return proxy;
    }

    /// <inheritdoc />
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        var method = _interface.GetMethod(targetMethod);
        return method.Send(_dispatcher, GrainId, method, args ?? []);
    }

    /// <inheritdoc />
    public override string ToString() => $"GrainReference({GrainId})";
}
