using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orchestration.Runtime.Calls.Remote;

/// <summary>
/// A grain call between processes, as <see cref="RemoteCallCodec"/> read it: target, method (<see cref="GrainMethod.WireName"/>,
/// and the method it names here), arguments read as its declared parameter types, how long the caller still waits, and
/// the caller's trace context. <see cref="Unreadable"/> says why the call cannot run here (no such method, an argument
/// that does not deserialize); the target is still known, so a silo that does not serve it answers "not mine" first.
/// </summary>
internal readonly record struct RemoteCallRequest(
    string GrainType, string GrainKey, string Method, GrainMethod? Resolved, object?[] Arguments, int TimeoutMilliseconds, string? TraceParent,
    Exception? Unreadable);

internal enum RemoteCallOutcome
{
    /// <summary>The call ran; <see cref="RemoteCallResponse.Result"/> holds its result (if the method has one).</summary>
    Completed,

    /// <summary>The call did not run: this silo does not serve the grain's partition. Safe to send again.</summary>
    NotOwner,

    /// <summary>The call ran and threw; the exception's type, message and public properties come back.</summary>
    Failed,
}

/// <summary>The answer to a <see cref="RemoteCallRequest"/>.</summary>
internal sealed record RemoteCallResponse(
    RemoteCallOutcome Outcome, JsonElement? Result = null, string? ExceptionType = null, string? Message = null,
    Dictionary<string, JsonElement>? ExceptionData = null);

/// <summary>The answers' serialisation on the slow paths, source-generated.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true)]
[JsonSerializable(typeof(RemoteCallResponse))]
internal sealed partial class RemoteCallJsonContext : JsonSerializerContext;
