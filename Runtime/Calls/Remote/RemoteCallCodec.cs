using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Orchestration.Runtime.Calls.Remote;

/// <summary>
/// The envelopes of remote calls, written and read by hand. A request is a binary head (format byte, timeout, then grain
/// type, grain key, method wire name and trace parent, each as an int32 length and its UTF-8) followed by the arguments
/// as a JSON array: the head is read with no JSON tokenizing and its known names with no string. A completed call's
/// answer is a format byte followed by the result's JSON. Each argument and the result go straight between the frame
/// and its typed value, with no <see cref="JsonElement"/> per value. The other answers (not mine, failed, the silo
/// status) have the JSON shape of <see cref="RemoteCallResponse"/>, which writes and reads them.
/// </summary>
internal static class RemoteCallCodec
{
    // Neither is '{', which every RemoteCallResponse answer starts with.
    private const byte RequestFormat = 1;
    private const byte CompletedFormat = 2;
    private const int LengthPrefix = sizeof(int);

    private static readonly JsonEncodedText s_outcome = JsonEncodedText.Encode("outcome");
    private static readonly JsonEncodedText s_result = JsonEncodedText.Encode("result");
    private static readonly JsonEncodedText s_completed = JsonEncodedText.Encode(nameof(RemoteCallOutcome.Completed));

    [ThreadStatic]
    private static Buffer? s_buffer;

    /// <summary>"Not mine": the call did not run.</summary>
    public static ReadOnlyMemory<byte> NotOwner { get; } =
        JsonSerializer.SerializeToUtf8Bytes(new RemoteCallResponse(RemoteCallOutcome.NotOwner), RemoteCallJsonContext.Default.RemoteCallResponse);

    /// <summary>A request; <paramref name="method"/> null for one to the silo itself (<see cref="RemoteCallHandler.SiloStatusTarget"/>), without arguments.</summary>
    public static byte[] WriteRequest(
        GrainId target, GrainMethod? method, object?[] arguments, int timeoutMilliseconds, string? traceParent, JsonSerializerOptions options)
    {
        var buffer = Buffer.Rent();
        try
        {
            var bytes = buffer.Bytes;
            var head = bytes.GetSpan(1 + sizeof(int));
            head[0] = RequestFormat;
            BinaryPrimitives.WriteInt32LittleEndian(head[1..], timeoutMilliseconds);
            bytes.Advance(1 + sizeof(int));
            WriteField(bytes, target.Type);
            WriteField(bytes, target.Key);
            WriteField(bytes, method is null ? default : method.Utf8WireName.Span);
            WriteField(bytes, traceParent ?? string.Empty);

            var writer = buffer.Writer;
            writer.WriteStartArray();
            for (var i = 0; i < arguments.Length; i++)
            {
                JsonSerializer.Serialize(writer, arguments[i], method!.ParameterTypes[i], options);
            }

            writer.WriteEndArray();
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
        Expect(request.Length >= 1 + sizeof(int) && request[0] == RequestFormat);
        var timeout = BinaryPrimitives.ReadInt32LittleEndian(request[1..]);
        var rest = request[(1 + sizeof(int))..];
        var grainType = names.GrainType(ReadField(ref rest));
        var grainKey = Encoding.UTF8.GetString(ReadField(ref rest));
        var wireName = ReadField(ref rest);
        var resolved = wireName.IsEmpty ? null : names.Method(wireName);
        var method = resolved?.WireName ?? Encoding.UTF8.GetString(wireName);
        var trace = ReadField(ref rest);
        var traceParent = trace.IsEmpty ? null : Encoding.UTF8.GetString(trace);

        object?[] arguments = [];
        Exception? unreadable = null;
        try
        {
            arguments = ReadArguments(rest, resolved, method, options);
        }
        catch (Exception exception) when (exception is JsonException or ArgumentException or NotSupportedException)
        {
            unreadable = exception;
        }

        return new RemoteCallRequest(grainType, grainKey, method, resolved, arguments, timeout, traceParent, unreadable);
    }

    private static void WriteField(ArrayBufferWriter<byte> bytes, string value)
    {
        var span = bytes.GetSpan(LengthPrefix + Encoding.UTF8.GetMaxByteCount(value.Length));
        var length = Encoding.UTF8.GetBytes(value, span[LengthPrefix..]);
        BinaryPrimitives.WriteInt32LittleEndian(span, length);
        bytes.Advance(LengthPrefix + length);
    }

    private static void WriteField(ArrayBufferWriter<byte> bytes, ReadOnlySpan<byte> utf8)
    {
        var span = bytes.GetSpan(LengthPrefix + utf8.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span, utf8.Length);
        utf8.CopyTo(span[LengthPrefix..]);
        bytes.Advance(LengthPrefix + utf8.Length);
    }

    private static ReadOnlySpan<byte> ReadField(ref ReadOnlySpan<byte> rest)
    {
        Expect(rest.Length >= LengthPrefix);
        var length = BinaryPrimitives.ReadInt32LittleEndian(rest);
        Expect(length >= 0 && length <= rest.Length - LengthPrefix);
        var field = rest.Slice(LengthPrefix, length);
        rest = rest[(LengthPrefix + length)..];
        return field;
    }

    private static object?[] ReadArguments(ReadOnlySpan<byte> json, GrainMethod? method, string wireName, JsonSerializerOptions options)
    {
        var types = method?.ParameterTypes ?? [];
        var arguments = types.Count == 0 ? [] : new object?[types.Count];
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException("The request's arguments are not a JSON array.");
        }

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
            buffer.Bytes.Write([CompletedFormat]);
            if (resultType is not null)
            {
                JsonSerializer.Serialize(buffer.Writer, result, resultType, options);
            }

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
        var answer = new byte[1 + resultJson.Length];
        answer[0] = CompletedFormat;
        resultJson.CopyTo(answer.AsSpan(1));
        return answer;
    }

    public static byte[] WriteFailed(Exception exception, JsonSerializerOptions options) =>
        JsonSerializer.SerializeToUtf8Bytes(RemoteExceptions.Describe(exception, options), RemoteCallJsonContext.Default.RemoteCallResponse);

    /// <summary>
    /// Reads an answer's outcome and, for <see cref="RemoteCallOutcome.Completed"/>, the result's JSON (empty when there is
    /// none). A <see cref="RemoteCallOutcome.Failed"/> answer is read in full by <see cref="ReadFailure"/>.
    /// </summary>
    public static RemoteCallOutcome ReadOutcome(ReadOnlySpan<byte> answer, out ReadOnlySpan<byte> result)
    {
        if (answer is [CompletedFormat, ..])
        {
            result = answer[1..];
            return RemoteCallOutcome.Completed;
        }

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

        /// <summary>The buffer itself, for bytes written around the JSON (before the writer's first value only).</summary>
        public ArrayBufferWriter<byte> Bytes => _bytes;

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
