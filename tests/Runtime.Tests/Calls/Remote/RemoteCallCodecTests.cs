using System.Text.Json;
using Orchestration.Runtime.Calls;
using Orchestration.Runtime.Calls.Remote;

namespace Orchestration.Runtime.Tests.Calls.Remote;

/// <summary>The envelopes as the runtime writes and reads them: typed values straight in and out of the frame.</summary>
public sealed class RemoteCallCodecTests
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);
    private static readonly GrainMethod s_method = GrainMethod.ForInterfaceMethod(typeof(IShapes).GetMethod(nameof(IShapes.DrawAsync))!);
    private static readonly GrainId s_grain = new("shapes", "s/1 \"quoted\"");

    [Fact]
    public void ReadRequest_WrittenRequest_SameTargetMethodArgumentsTimeoutAndTrace()
    {
        // A nested interface: its wire name has a '+', which JSON escapes.
        var wire = RemoteCallCodec.WriteRequest(s_grain, s_method, [new Shape("square", [1, 2]), "<b>"], 1234,
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", s_json);

        var request = RemoteCallCodec.ReadRequest(wire, new Names(s_method), s_json);

        Assert.Null(request.Unreadable);
        Assert.Same(s_method, request.Resolved);
        Assert.Equal((s_grain.Type, s_grain.Key), (request.GrainType, request.GrainKey));
        Assert.Equal(new Shape("square", [1, 2]), request.Arguments[0]);
        Assert.Equal("<b>", request.Arguments[1]);
        Assert.Equal(1234, request.TimeoutMilliseconds);
        Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", request.TraceParent);
    }

    [Fact]
    public void ReadRequest_MethodUnknownHere_UnreadableButTheTargetIsKnown()
    {
        var wire = RemoteCallCodec.WriteRequest(s_grain, s_method, [new Shape("dot", []), "x"], 10, null, s_json);

        var request = RemoteCallCodec.ReadRequest(wire, new Names(null), s_json);

        Assert.IsType<ArgumentException>(request.Unreadable);
        Assert.Contains(s_method.WireName, request.Unreadable.Message, StringComparison.Ordinal);
        Assert.Equal(s_grain.Key, request.GrainKey);
    }

    [Fact]
    public void ReadRequest_TruncatedOrNotARequest_Throws()
    {
        var wire = RemoteCallCodec.WriteRequest(s_grain, s_method, [new Shape("dot", []), "x"], 10, null, s_json);

        Assert.Throws<JsonException>(() => RemoteCallCodec.ReadRequest(wire.AsSpan(0, 12), new Names(s_method), s_json));
        Assert.Throws<JsonException>(() => RemoteCallCodec.ReadRequest("""{"grainType":"shapes"}"""u8, new Names(s_method), s_json));
    }

    [Fact]
    public void ReadOutcome_Completed_TheResultsJsonOrNothingForAMethodWithoutOne()
    {
        Assert.Equal(RemoteCallOutcome.Completed, RemoteCallCodec.ReadOutcome(RemoteCallCodec.WriteCompleted(new Shape("a", [3]), typeof(Shape), s_json), out var result));
        Assert.Equal(new Shape("a", [3]), JsonSerializer.Deserialize<Shape>(result, s_json));

        Assert.Equal(RemoteCallOutcome.Completed, RemoteCallCodec.ReadOutcome(RemoteCallCodec.WriteCompleted(null, resultType: null, s_json), out result));
        Assert.True(result.IsEmpty);
    }

    [Fact]
    public void ReadOutcome_AnswersWrittenByTheResponseRecord_SameOutcomes()
    {
        var completed = JsonSerializer.SerializeToUtf8Bytes(
            new RemoteCallResponse(RemoteCallOutcome.Completed, JsonSerializer.SerializeToElement(42, s_json)), RemoteCallJsonContext.Default.RemoteCallResponse);
        Assert.Equal(RemoteCallOutcome.Completed, RemoteCallCodec.ReadOutcome(completed, out var result));
        Assert.Equal(42, JsonSerializer.Deserialize<int>(result, s_json));

        Assert.Equal(RemoteCallOutcome.NotOwner, RemoteCallCodec.ReadOutcome(RemoteCallCodec.NotOwner.Span, out _));

        var failed = RemoteCallCodec.WriteFailed(new InvalidOperationException("refused"), s_json);
        Assert.Equal(RemoteCallOutcome.Failed, RemoteCallCodec.ReadOutcome(failed, out _));
        Assert.Equal("refused", Assert.IsType<InvalidOperationException>(RemoteCallCodec.ReadFailure(failed, s_json)).Message);
    }

    /// <summary>Knows one method (or none) and no grain type.</summary>
    internal sealed class Names(GrainMethod? method) : IRemoteCallNames
    {
        public string GrainType(ReadOnlySpan<byte> utf8) => System.Text.Encoding.UTF8.GetString(utf8);

        public GrainMethod? Method(ReadOnlySpan<byte> utf8) =>
            method is not null && System.Text.Encoding.UTF8.GetString(utf8) == method.WireName ? method : null;
    }

    public interface IShapes : IGrainWithStringKey
    {
        Task<int> DrawAsync(Shape shape, string label);
    }

    public sealed record Shape(string Name, int[] Sizes)
    {
        public bool Equals(Shape? other) => other is not null && Name == other.Name && Sizes.SequenceEqual(other.Sizes);

        public override int GetHashCode() => Name.GetHashCode(StringComparison.Ordinal);
    }
}
