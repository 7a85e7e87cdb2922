using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orchestration.Runtime.Calls.Remote;

/// <summary>
/// A grain call between processes: target, method (<see cref="GrainMethod.WireName"/>), arguments serialised by their
/// declared parameter types, how long the caller still waits, and the caller's trace context.
/// </summary>
internal sealed record RemoteCallRequest(
    string GrainType, string GrainKey, string Method, JsonElement[] Arguments, int TimeoutMilliseconds, string? TraceParent);

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

/// <summary>The envelopes' serialisation, source-generated (no reflection on the hot path).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true)]
[JsonSerializable(typeof(RemoteCallRequest))]
[JsonSerializable(typeof(RemoteCallResponse))]
internal sealed partial class RemoteCallJsonContext : JsonSerializerContext;
