using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;

namespace Orchestration.Runtime.Calls.Remote;

/// <summary>
/// A silo's side of remote calls: a call for a grain whose partition this silo accepts runs here (through the
/// dispatcher, as a local call); any other is answered "not mine" without running, so the caller may send it again.
/// </summary>
internal sealed class RemoteCallHandler(SiloRuntime runtime)
{
    private static readonly ActivitySource s_source = new(RuntimeInstruments.Name);
    private readonly ConcurrentDictionary<string, GrainMethod?> _methods = new();

    /// <summary>The target of a request for this silo's own status (activation counts for the cluster view), not a grain.</summary>
    public const string SiloStatusTarget = "$silo-status";

    public async ValueTask<ReadOnlyMemory<byte>> HandleAsync(ReadOnlyMemory<byte> requestBytes, CancellationToken cancellationToken)
    {
        var request = JsonSerializer.Deserialize(requestBytes.Span, RemoteCallJsonContext.Default.RemoteCallRequest)!;
        var target = new GrainId(request.GrainType, request.GrainKey);
        RemoteCallResponse response;
        if (request.GrainType == SiloStatusTarget)
        {
            response = new RemoteCallResponse(RemoteCallOutcome.Completed,
                JsonSerializer.SerializeToElement(runtime.GetStatus(), Management.RuntimeContractsJsonContext.Default.SiloStatus));
        }
        else if (runtime.Router is not { } router || !router.IsLocal(runtime, target))
        {
            response = new RemoteCallResponse(RemoteCallOutcome.NotOwner);
        }
        else
        {
            response = await RunAsync(target, request);
        }

        return JsonSerializer.SerializeToUtf8Bytes(response, RemoteCallJsonContext.Default.RemoteCallResponse);
    }

    private async Task<RemoteCallResponse> RunAsync(GrainId target, RemoteCallRequest request)
    {
        var json = runtime.Json;
        try
        {
            var method = _methods.GetOrAdd(request.Method, FindMethod)
                ?? throw new ArgumentException($"No grain interface of this silo has the method {request.Method}.");
            var arguments = new object?[request.Arguments.Length];
            for (var i = 0; i < arguments.Length; i++)
            {
                arguments[i] = request.Arguments[i].Deserialize(method.ParameterTypes[i], json);
            }

            // The call becomes a child of the caller's span in the other process.
            using var span = request.TraceParent is { } parent && ActivityContext.TryParse(parent, null, out var context)
                ? s_source.StartActivity("orchestration.remote_call", ActivityKind.Server, context)
                : null;
            var call = method.Send(runtime.Dispatcher, target, method, arguments);
            await call;
            var result = method.ReadResult(call);
            return new RemoteCallResponse(RemoteCallOutcome.Completed,
                method.ResultType is { } type ? JsonSerializer.SerializeToElement(result, type, json) : null);
        }
        catch (Exception exception)
        {
            return RemoteExceptions.Describe(exception, json);
        }
    }

    private GrainMethod? FindMethod(string wireName) =>
        runtime.Registry.Classes
            .SelectMany(grainClass => grainClass.ClassType.GetInterfaces()
                .Where(interfaceType => typeof(IGrain).IsAssignableFrom(interfaceType) && interfaceType != typeof(IGrain))
                .Select(interfaceType => runtime.Registry.GetInterface(interfaceType, grainClass.TypeName)))
            .SelectMany(grainInterface => grainInterface.Methods)
            .FirstOrDefault(method => method.WireName == wireName);
}
