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
    // Both tables are written only here, then only read (safe from any thread), and hold what the registry knows and
    // nothing else: an unknown name is never kept, so they stay the registry's size whatever peers send. Not frozen, as
    // frozen tables take no alternate key of ours.
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<byte>> _types;
    private readonly Dictionary<string, GrainMethod>.AlternateLookup<ReadOnlySpan<byte>> _methods;

    public RemoteCallNames(GrainTypeRegistry registry, params IEnumerable<string> otherTypes)
    {
        _types = registry.Classes.Select(grainClass => grainClass.TypeName).Concat(otherTypes).Distinct()
            .ToDictionary(name => name, Utf8NameComparer.Instance)
            .GetAlternateLookup<ReadOnlySpan<byte>>();
        var methods = new Dictionary<string, GrainMethod>(Utf8NameComparer.Instance);
        foreach (var method in registry.Classes
            .SelectMany(grainClass => grainClass.ClassType.GetInterfaces()
                .Where(interfaceType => typeof(IGrain).IsAssignableFrom(interfaceType) && interfaceType != typeof(IGrain))
                .Select(interfaceType => registry.GetInterface(interfaceType, grainClass.TypeName)))
            .SelectMany(grainInterface => grainInterface.Methods))
        {
            methods.TryAdd(method.WireName, method); // one interface implemented by several classes: one entry
        }

        _methods = methods.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>How many method names the table holds: fixed when it is built.</summary>
    internal int MethodCount => _methods.Dictionary.Count;

    public string GrainType(ReadOnlySpan<byte> utf8) => _types.TryGetValue(utf8, out var name) ? name : Encoding.UTF8.GetString(utf8);

    public GrainMethod? Method(ReadOnlySpan<byte> utf8) => _methods.TryGetValue(utf8, out var method) ? method : null;
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
