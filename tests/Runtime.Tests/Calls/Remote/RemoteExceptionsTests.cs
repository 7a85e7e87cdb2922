using System.Text.Json;
using Orchestration.Runtime.Calls.Remote;

namespace Orchestration.Runtime.Tests.Calls.Remote;

/// <summary>Exceptions across processes come back as the type the grain threw, with its message and properties.</summary>
public sealed class RemoteExceptionsTests
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    [Fact]
    public void Rebuild_ExceptionWithPropertiesMatchingItsConstructor_SameTypeMessageAndProperties()
    {
        var original = new CodedException("not_found", "API key 'bootstrap' does not exist.");

        var rebuilt = Assert.IsType<CodedException>(RoundTrip(original));

        Assert.Equal(original.Code, rebuilt.Code);
        Assert.Equal(original.Message, rebuilt.Message);
    }

    [Fact]
    public void Rebuild_MessageOnlyException_SameTypeAndMessage() =>
        Assert.Equal("boom", Assert.IsType<InvalidOperationException>(RoundTrip(new InvalidOperationException("boom"))).Message);

    [Fact]
    public void Rebuild_TypeThatCannotBeRebuilt_RemoteGrainExceptionWithTheTypeNameAndMessage()
    {
        var rebuilt = Assert.IsType<RemoteGrainException>(RoundTrip(new UnbuildableException(3)));

        Assert.Equal(typeof(UnbuildableException).FullName, rebuilt.RemoteType);
        Assert.Contains("3 things went wrong", rebuilt.Message);
    }

    public static TheoryData<Exception> RuntimeFailures => new()
    {
        // What a caller must recognise to answer "outcome unknown" (the Api's 503), however many silos it crossed.
        new GrainOwnershipLostException(new GrainId("task", "org/t-1"), "partition 230 epoch 51: its lease ended here"),
        new GrainCallTimeoutException(new GrainId("task", "org/t-1"), "ClaimAsync", TimeSpan.FromSeconds(30)),
        new SiloUnavailableException(new GrainId("task", "org/t-1"), "ClaimAsync", "127.0.0.1:4000"),
        new GrainOverloadedException(new GrainId("task", "org/t-1"), "ClaimAsync", 5000),
    };

    [Theory]
    [MemberData(nameof(RuntimeFailures))]
    public void Rebuild_RuntimeFailure_SameTypeAndMessageAcrossTwoHops(Exception original)
    {
        var rebuilt = RoundTrip(RoundTrip(original));

        Assert.IsType(original.GetType(), rebuilt);
        Assert.Equal(original.Message, rebuilt.Message);
    }

    private static Exception RoundTrip(Exception exception)
    {
        var wire = JsonSerializer.SerializeToUtf8Bytes(RemoteExceptions.Describe(exception, s_json), RemoteCallJsonContext.Default.RemoteCallResponse);
        return RemoteExceptions.Rebuild(JsonSerializer.Deserialize(wire, RemoteCallJsonContext.Default.RemoteCallResponse)!, s_json);
    }

    public sealed class CodedException(string code, string message) : Exception(message)
    {
        public string Code { get; } = code;
    }

    /// <summary>Its constructor's parameter is no property, so nothing on the wire can call it.</summary>
    public sealed class UnbuildableException(int count) : Exception($"{count} things went wrong");
}
