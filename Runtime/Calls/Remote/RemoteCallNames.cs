using System.Collections.Concurrent;
using System.Text;
using Orchestration.Runtime.Activations;

namespace Orchestration.Runtime.Calls.Remote;

/// <summary>
/// What the names in a request mean here, looked up by their UTF-8 bytes as they lie in the frame: a request for a known
/// grain type and method costs no string and no transcoding for either.
/// </summary>
internal interface IRemoteCallNames
{
    /// <summary>The grain type <paramref name="utf8"/> (unescaped) names: the registered string for a known one.</summary>
    string GrainType(ReadOnlySpan<byte> utf8);

    /// <summary>The method whose <see cref="GrainMethod.WireName"/> is <paramref name="utf8"/> (unescaped); null when this silo has none.</summary>
    GrainMethod? Method(ReadOnlySpan<byte> utf8);
}

/// <summary>A silo's <see cref="IRemoteCallNames"/>: its registry's grain types (and the silo status target) and their interfaces' methods.</summary>
internal sealed class RemoteCallNames : IRemoteCallNames
{
    private readonly GrainTypeRegistry _registry;
    // Written only here, then only read (safe from any thread); not frozen, as frozen tables take no alternate key of ours.
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<byte>> _types;
    private readonly ConcurrentDictionary<string, GrainMethod?> _methods = new(Utf8NameComparer.Instance);
    private readonly ConcurrentDictionary<string, GrainMethod?>.AlternateLookup<ReadOnlySpan<byte>> _methodsByUtf8;

    public RemoteCallNames(GrainTypeRegistry registry, params IEnumerable<string> otherTypes)
    {
        _registry = registry;
        _types = registry.Classes.Select(grainClass => grainClass.TypeName).Concat(otherTypes).Distinct()
            .ToDictionary(name => name, Utf8NameComparer.Instance)
            .GetAlternateLookup<ReadOnlySpan<byte>>();
        _methodsByUtf8 = _methods.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    // An unknown type is not kept: the table stays the registry's size whatever peers send.
    public string GrainType(ReadOnlySpan<byte> utf8) => _types.TryGetValue(utf8, out var name) ? name : Encoding.UTF8.GetString(utf8);

    public GrainMethod? Method(ReadOnlySpan<byte> utf8) =>
        _methodsByUtf8.TryGetValue(utf8, out var method) ? method : _methods.GetOrAdd(Encoding.UTF8.GetString(utf8), FindMethod);

    private GrainMethod? FindMethod(string wireName) =>
        _registry.Classes
            .SelectMany(grainClass => grainClass.ClassType.GetInterfaces()
                .Where(interfaceType => typeof(IGrain).IsAssignableFrom(interfaceType) && interfaceType != typeof(IGrain))
                .Select(interfaceType => _registry.GetInterface(interfaceType, grainClass.TypeName)))
            .SelectMany(grainInterface => grainInterface.Methods)
            .FirstOrDefault(method => method.WireName == wireName);
}

/// <summary>Ordinal string keys that can also be looked up by their UTF-8 bytes: both hash the UTF-8 form.</summary>
internal sealed class Utf8NameComparer : IEqualityComparer<string>, IAlternateEqualityComparer<ReadOnlySpan<byte>, string>
{
    public static Utf8NameComparer Instance { get; } = new();

    public bool Equals(string? x, string? y) => string.Equals(x, y, StringComparison.Ordinal);

    // Only when a key is added or looked up as a string (not per call): encoding a short name then is cheap.
    public int GetHashCode(string name)
    {
        var length = Encoding.UTF8.GetByteCount(name);
        Span<byte> utf8 = length <= 256 ? stackalloc byte[length] : new byte[length];
        Encoding.UTF8.GetBytes(name, utf8);
        return GetHashCode((ReadOnlySpan<byte>)utf8);
    }

    public int GetHashCode(ReadOnlySpan<byte> utf8)
    {
        var hash = new HashCode();
        hash.AddBytes(utf8);
        return hash.ToHashCode();
    }

    public bool Equals(ReadOnlySpan<byte> utf8, string name) =>
        Ascii.Equals(utf8, name) || (!Ascii.IsValid(utf8) && Encoding.UTF8.GetString(utf8) == name);

    public string Create(ReadOnlySpan<byte> utf8) => Encoding.UTF8.GetString(utf8);
}
