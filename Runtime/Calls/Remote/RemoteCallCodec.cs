using System.Buffers;
using System.Text.Json;

namespace Orchestration.Runtime.Calls.Remote;

/// <summary>
/// The envelopes of remote calls, written and read by hand: each argument and the result go straight between the frame
/// and its typed value, with no <see cref="JsonElement"/> (a <see cref="JsonDocument"/>) per value. Answers have the JSON
/// shape of <see cref="RemoteCallResponse"/>, which still writes and reads the slow ones (failures, the silo status).
/// </summary>
internal static class RemoteCallCodec
{
    private static readonly JsonEncodedText s_grainType = JsonEncodedText.Encode("grainType");
    private static readonly JsonEncodedText s_grainKey = JsonEncodedText.Encode("grainKey");
    private static readonly JsonEncodedText s_method = JsonEncodedText.Encode("method");
    private static readonly JsonEncodedText s_timeout = JsonEncodedText.Encode("timeoutMilliseconds");
    private static readonly JsonEncodedText s_traceParent = JsonEncodedText.Encode("traceParent");
    private static readonly JsonEncodedText s_arguments = JsonEncodedText.Encode("arguments");
    private static readonly JsonEncodedText s_outcome = JsonEncodedText.Encode("outcome");
    private static readonly JsonEncodedText s_result = JsonEncodedText.Encode("result");
    private static readonly JsonEncodedText s_completed = JsonEncodedText.Encode(nameof(RemoteCallOutcome.Completed));

    [ThreadStatic]
    private static Buffer? s_buffer;

    /// <summary>"Not mine": the call did not run.</summary>
    public static ReadOnlyMemory<byte> NotOwner { get; } =
        JsonSerializer.SerializeToUtf8Bytes(new RemoteCallResponse(RemoteCallOutcome.NotOwner), RemoteCallJsonContext.Default.RemoteCallResponse);

    public static byte[] WriteRequest(
        GrainId target, System.Text.Json.JsonEncodedText method, IReadOnlyList<Type> parameterTypes, object?[] arguments, int timeoutMilliseconds, string? traceParent,
        JsonSerializerOptions options)
    {
        var buffer = Buffer.Rent();
        try
        {
            var writer = buffer.Writer;
            writer.WriteStartObject();
            writer.WriteString(s_grainType, target.Type);
            writer.WriteString(s_grainKey, target.Key);
            writer.WriteString(s_method, method);
            writer.WriteNumber(s_timeout, timeoutMilliseconds);
            if (traceParent is not null)
            {
                writer.WriteString(s_traceParent, traceParent);
            }

            writer.WriteStartArray(s_arguments);
            for (var i = 0; i < arguments.Length; i++)
            {
                JsonSerializer.Serialize(writer, arguments[i], parameterTypes[i], options);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            return buffer.ToArray();
        }
        finally
        {
            buffer.Return();
        }
    }

    /// <summary>
    /// Reads a request; its arguments are read as the parameter types of the method <paramref name="names"/> finds for
    /// its wire name (null: no such method, which only a request without arguments may name). Throws only for an envelope
    /// that is not one; a call that cannot run here comes back with <see cref="RemoteCallRequest.Unreadable"/>.
    /// </summary>
    public static RemoteCallRequest ReadRequest(ReadOnlySpan<byte> request, IRemoteCallNames names, JsonSerializerOptions options)
    {
        var reader = new Utf8JsonReader(request);
        Expect(reader.Read() && reader.TokenType == JsonTokenType.StartObject);
        string grainType = string.Empty, grainKey = string.Empty, method = string.Empty;
        string? traceParent = null;
        var timeout = 0;
        GrainMethod? resolved = null;
        ReadOnlySpan<byte> argumentsJson = "[]"u8;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(s_arguments.EncodedUtf8Bytes))
            {
                Expect(reader.Read() && reader.TokenType == JsonTokenType.StartArray);
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                argumentsJson = request[start..(int)reader.BytesConsumed];
                continue;
            }

            var name = reader.ValueSpan;
            reader.Read();
            if (reader.TokenType == JsonTokenType.Null)
            {
                continue;
            }

            if (Is(name, s_grainType))
            {
                Expect(reader.TokenType == JsonTokenType.String);
                grainType = reader.ValueIsEscaped ? ReadEscapedGrainType(ref reader, names) : names.GrainType(reader.ValueSpan);
            }
            else if (Is(name, s_grainKey))
            {
                grainKey = reader.GetString()!;
            }
            else if (Is(name, s_method))
            {
                Expect(reader.TokenType == JsonTokenType.String);
                (resolved, method) = reader.ValueIsEscaped ? ReadEscapedMethod(ref reader, names) : ResolveMethod(reader.ValueSpan, names);
            }
            else if (Is(name, s_timeout))
            {
                timeout = reader.GetInt32();
            }
            else if (Is(name, s_traceParent))
            {
                traceParent = reader.GetString();
            }
            else
            {
                reader.Skip();
            }
        }

        object?[] arguments = [];
        Exception? unreadable = null;
        try
        {
            arguments = ReadArguments(argumentsJson, resolved, method, options);
        }
        catch (Exception exception) when (exception is JsonException or ArgumentException or NotSupportedException)
        {
            unreadable = exception;
        }

        return new RemoteCallRequest(grainType, grainKey, method, resolved, arguments, timeout, traceParent, unreadable);
    }

    /// <summary>The method a wire name names here; the name's string is made only for a name this silo does not know.</summary>
    private static (GrainMethod? Method, string WireName) ResolveMethod(ReadOnlySpan<byte> wireName, IRemoteCallNames names)
    {
        var method = wireName.IsEmpty ? null : names.Method(wireName);
        return (method, method?.WireName ?? System.Text.Encoding.UTF8.GetString(wireName));
    }

    // Escaped names (a nested interface's '+' is) are unescaped on the stack.
    private static (GrainMethod? Method, string WireName) ReadEscapedMethod(ref Utf8JsonReader reader, IRemoteCallNames names)
    {
        var length = reader.ValueSpan.Length;
        Span<byte> utf8 = length <= 512 ? stackalloc byte[length] : new byte[length];
        return ResolveMethod(utf8[..reader.CopyString(utf8)], names);
    }

    private static string ReadEscapedGrainType(ref Utf8JsonReader reader, IRemoteCallNames names)
    {
        var length = reader.ValueSpan.Length;
        Span<byte> utf8 = length <= 512 ? stackalloc byte[length] : new byte[length];
        return names.GrainType(utf8[..reader.CopyString(utf8)]);
    }

    private static object?[] ReadArguments(ReadOnlySpan<byte> json, GrainMethod? method, string wireName, JsonSerializerOptions options)
    {
        var types = method?.ParameterTypes ?? [];
        var arguments = types.Count == 0 ? [] : new object?[types.Count];
        var reader = new Utf8JsonReader(json);
        reader.Read();
        var count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (count == types.Count)
            {
                throw new ArgumentException(method is null
                    ? $"No grain interface of this silo has the method {wireName}."
                    : $"{wireName} takes {types.Count} arguments; the request has more.");
            }

            arguments[count] = JsonSerializer.Deserialize(ref reader, types[count], options);
            count++;
        }

        return count == types.Count ? arguments : throw new ArgumentException($"{wireName} takes {types.Count} arguments; the request has {count}.");
    }

    /// <summary>A completed call's answer: <paramref name="resultType"/> null for a method without a result.</summary>
    public static byte[] WriteCompleted(object? result, Type? resultType, JsonSerializerOptions options)
    {
        var buffer = Buffer.Rent();
        try
        {
            var writer = buffer.Writer;
            writer.WriteStartObject();
            writer.WriteString(s_outcome, s_completed);
            if (resultType is not null)
            {
                writer.WritePropertyName(s_result);
                JsonSerializer.Serialize(writer, result, resultType, options);
            }

            writer.WriteEndObject();
            return buffer.ToArray();
        }
        finally
        {
            buffer.Return();
        }
    }

    /// <summary>A completed call's answer carrying a result that is JSON already (a call this silo passed on to another).</summary>
    public static byte[] WriteCompleted(ReadOnlySpan<byte> resultJson)
    {
        var buffer = Buffer.Rent();
        try
        {
            var writer = buffer.Writer;
            writer.WriteStartObject();
            writer.WriteString(s_outcome, s_completed);
            if (!resultJson.IsEmpty)
            {
                writer.WritePropertyName(s_result);
                writer.WriteRawValue(resultJson, skipInputValidation: true);
            }

            writer.WriteEndObject();
            return buffer.ToArray();
        }
        finally
        {
            buffer.Return();
        }
    }

    public static byte[] WriteFailed(Exception exception, JsonSerializerOptions options) =>
        JsonSerializer.SerializeToUtf8Bytes(RemoteExceptions.Describe(exception, options), RemoteCallJsonContext.Default.RemoteCallResponse);

    /// <summary>
    /// Reads an answer's outcome and, for <see cref="RemoteCallOutcome.Completed"/>, the result's JSON (empty when there is
    /// none). A <see cref="RemoteCallOutcome.Failed"/> answer is read in full by <see cref="ReadFailure"/>.
    /// </summary>
    public static RemoteCallOutcome ReadOutcome(ReadOnlySpan<byte> answer, out ReadOnlySpan<byte> result)
    {
        result = default;
        RemoteCallOutcome? outcome = null;
        var reader = new Utf8JsonReader(answer);
        Expect(reader.Read() && reader.TokenType == JsonTokenType.StartObject);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.ValueSpan;
            reader.Read();
            if (Is(name, s_outcome))
            {
                outcome = reader.ValueTextEquals(s_completed.EncodedUtf8Bytes) ? RemoteCallOutcome.Completed
                    : Enum.Parse<RemoteCallOutcome>(reader.GetString()!, ignoreCase: true);
            }
            else if (Is(name, s_result) && reader.TokenType != JsonTokenType.Null)
            {
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                result = answer[start..(int)reader.BytesConsumed];
            }
            else
            {
                reader.Skip();
            }
        }

        return outcome ?? throw new JsonException("The answer has no outcome.");
    }

    public static Exception ReadFailure(ReadOnlySpan<byte> answer, JsonSerializerOptions options) =>
        RemoteExceptions.Rebuild(JsonSerializer.Deserialize(answer, RemoteCallJsonContext.Default.RemoteCallResponse)!, options);

    private static void Expect(bool condition)
    {
        if (!condition)
        {
            throw new JsonException("Malformed remote call envelope.");
        }
    }

    // Names are compared as written: neither side escapes these ASCII names.
    private static bool Is(ReadOnlySpan<byte> name, JsonEncodedText expected) => name.SequenceEqual(expected.EncodedUtf8Bytes);

    /// <summary>A writer and its buffer, one per thread: an envelope is written into it, then copied out at its exact length.</summary>
    private sealed class Buffer
    {
        private readonly ArrayBufferWriter<byte> _bytes = new(256);

        private Buffer() => Writer = new Utf8JsonWriter(_bytes, new JsonWriterOptions { SkipValidation = true });

        public Utf8JsonWriter Writer { get; }

        public static Buffer Rent()
        {
            // Taken off the thread while in use: a converter that sent a remote call of its own would get a fresh one.
            var buffer = s_buffer ?? new Buffer();
            s_buffer = null;
            return buffer;
        }

        public byte[] ToArray()
        {
            Writer.Flush();
            return _bytes.WrittenSpan.ToArray();
        }

        public void Return()
        {
            Writer.Reset();
            _bytes.ResetWrittenCount();
            if (_bytes.Capacity <= 64 * 1024)
            {
                s_buffer = this;
            }
        }
    }
}
