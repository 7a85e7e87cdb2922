using System.Text;
using Orchestration.Runtime.Activations;
using Orchestration.Runtime.Calls.Remote;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Calls.Remote;

/// <summary>Names in a request, looked up by their UTF-8 bytes.</summary>
public sealed class RemoteCallNamesTests
{
    private static readonly GrainTypeRegistry s_registry = new([typeof(CounterGrain).Assembly]);

    [Fact]
    public void GrainType_KnownType_TheRegisteredString()
    {
        var registered = s_registry.GetClass(GrainClassInfo.ToTypeName(typeof(CounterGrain))).TypeName;

        var name = CreateSut().GrainType(Encoding.UTF8.GetBytes(registered));

        Assert.Same(registered, name);
    }

    [Fact]
    public void GrainType_UnknownOrOtherTarget_ItsOwnStringOrTheOtherTargetsString()
    {
        var sut = CreateSut();

        Assert.Equal("no-such-type", sut.GrainType("no-such-type"u8));
        Assert.Same(RemoteCallHandler.SiloStatusTarget, sut.GrainType(Encoding.UTF8.GetBytes(RemoteCallHandler.SiloStatusTarget)));
    }

    [Fact]
    public void Method_WireNameOfARegisteredInterface_TheSameMethodEveryTime()
    {
        var sut = CreateSut();
        var expected = s_registry.GetInterface(typeof(ICounterGrain), GrainClassInfo.ToTypeName(typeof(CounterGrain)))
            .Methods.Single(method => method.Name == "ICounterGrain.AppendAsync");
        var wireName = Encoding.UTF8.GetBytes(expected.WireName);

        var first = sut.Method(wireName);
        var second = sut.Method(wireName);

        Assert.Equal(expected.WireName, first?.WireName);
        Assert.Same(first, second);
    }

    [Fact]
    public void Method_UnknownOrNonAsciiName_Null()
    {
        var sut = CreateSut();

        Assert.Null(sut.Method("INoSuchGrain.Missing()"u8));
        Assert.Null(sut.Method(Encoding.UTF8.GetBytes("ICounterGrain.Größe()")));
    }

    [Fact]
    public void Method_ManyUnknownNames_TheTableDoesNotGrow()
    {
        var sut = CreateSut();
        var known = sut.MethodCount;

        for (var i = 0; i < 1_000; i++)
        {
            Assert.Null(sut.Method(Encoding.UTF8.GetBytes($"IPeerSent.Junk{i}()")));
        }

        Assert.True(known > 0);
        Assert.Equal(known, sut.MethodCount);
    }

    [Fact]
    public void Utf8NameComparer_StringAndItsUtf8_SameHashAndEqual()
    {
        var comparer = Utf8NameComparer.Instance;

        foreach (var name in new[] { "ping", "ICounterGrain.Größe(System.String)", string.Empty })
        {
            var utf8 = Encoding.UTF8.GetBytes(name);
            Assert.Equal(comparer.GetHashCode(name), comparer.GetHashCode((ReadOnlySpan<byte>)utf8));
            Assert.True(comparer.Equals(utf8, name));
            Assert.False(comparer.Equals(utf8, name + "x"));
        }
    }

    private static RemoteCallNames CreateSut() => new(s_registry, RemoteCallHandler.SiloStatusTarget);
}
