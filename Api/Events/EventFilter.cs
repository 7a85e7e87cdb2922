using Orchestration.Api.Contracts;

namespace Orchestration.Api.Events;

/// <summary>The <c>types</c>, <c>subject</c> and <c>correlationId</c> filters of the event stream.</summary>
internal sealed class EventFilter
{
    private readonly string[] _exactTypes;
    private readonly string[] _typePrefixes;
    private readonly string? _subject;
    private readonly string? _correlationId;

    private EventFilter(string[] exactTypes, string[] typePrefixes, string? subject, string? correlationId)
    {
        _exactTypes = exactTypes;
        _typePrefixes = typePrefixes;
        _subject = subject;
        _correlationId = correlationId;
    }

    /// <summary>Parses the query; broken rules go to <paramref name="validator"/>.</summary>
    public static EventFilter Parse(string? types, string? subject, string? correlationId, RequestValidator validator)
    {
        var items = (types ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (items.Length > 50 || items.Any(item => item.Length > 128))
        {
            validator.Add("types", "takes at most 50 types of at most 128 characters each.");
        }

        validator.OptionalText("subject", subject, 300);
        validator.OptionalText("correlationId", correlationId, 128);
        var prefixes = items.Where(item => item.EndsWith(".*", StringComparison.Ordinal)).Select(item => item[..^1]).ToArray();
        var exact = items.Where(item => !item.EndsWith(".*", StringComparison.Ordinal)).ToArray();
        return new EventFilter(exact, prefixes, subject, correlationId);
    }

    /// <summary>Whether the event passes every filter that is set.</summary>
    public bool Matches(ApiEvent item) =>
        (_exactTypes.Length + _typePrefixes.Length == 0
            || _exactTypes.Contains(item.Type, StringComparer.Ordinal)
            || _typePrefixes.Any(prefix => item.Type.StartsWith(prefix, StringComparison.Ordinal)))
        && (_subject is null || string.Equals(item.Subject, _subject, StringComparison.Ordinal))
        && (_correlationId is null || string.Equals(item.CorrelationId, _correlationId, StringComparison.Ordinal));
}
