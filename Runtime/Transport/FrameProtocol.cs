using System.Buffers.Binary;

namespace Orchestration.Runtime.Transport;

/// <summary>What a frame carries. Connection-level frames (<see cref="GoAway"/>) use correlation id 0.</summary>
internal enum FrameKind : byte
{
    /// <summary>Client → server: a request body for the handler.</summary>
    Request = 1,

    /// <summary>Server → client: the handler's answer.</summary>
    Response = 2,

    /// <summary>Server → client: the handler threw; the body is the UTF-8 message.</summary>
    Error = 3,

    /// <summary>Server → client: the server is stopping and did not run the handler (safe to send elsewhere).</summary>
    Rejected = 4,

    /// <summary>Server → client: stop sending here; close the connection once its answers are in.</summary>
    GoAway = 5,
}

/// <summary>
/// The wire format. A client opens a connection with the 8-byte <see cref="Preface"/>; then both sides send frames:
/// a 9-byte header (body length: int32 little-endian; <see cref="FrameKind"/>: one byte; correlation id: int32
/// little-endian) followed by the body. Answers carry their request's id and may come in any order.
/// </summary>
internal static class FrameProtocol
{
    public const int HeaderLength = 9;

    /// <summary>Lets a server close a peer that speaks something else before reading any frame.</summary>
    public static ReadOnlySpan<byte> Preface => "ORCHTP/1"u8;

    public static void WriteHeader(Span<byte> destination, int bodyLength, FrameKind kind, int id)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, bodyLength);
        destination[4] = (byte)kind;
        BinaryPrimitives.WriteInt32LittleEndian(destination[5..], id);
    }

    public static (int BodyLength, FrameKind Kind, int Id) ReadHeader(ReadOnlySpan<byte> source) =>
        (BinaryPrimitives.ReadInt32LittleEndian(source), (FrameKind)source[4], BinaryPrimitives.ReadInt32LittleEndian(source[5..]));
}
