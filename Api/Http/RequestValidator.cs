using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Orchestration.Api;

/// <summary>Collects every rule a request breaks, so the client sees all of them in one 400 <c>validation_failed</c>.</summary>
internal sealed class RequestValidator
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    /// <summary>Whether any rule was broken.</summary>
    public bool HasErrors => _errors.Count > 0;

    /// <summary>Records a broken rule.</summary>
    public void Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var messages))
        {
            _errors[field] = messages = [];
        }

        messages.Add(message);
    }

    /// <summary>A required id.</summary>
    public void Id(string field, string? value)
    {
        if (value is null)
        {
            Add(field, "is required.");
        }
        else
        {
            OptionalId(field, value);
        }
    }

    /// <summary>An id when present.</summary>
    public void OptionalId(string field, string? value)
    {
        if (value is not null && !Ids.IsValid(value))
        {
            Add(field, "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' or '-', and not '.' or '..'.");
        }
    }

    /// <summary>A list of ids when present.</summary>
    public void IdList(string field, IReadOnlyList<string?>? values, int maxCount)
    {
        if (values is null)
        {
            return;
        }

        if (values.Count > maxCount)
        {
            Add(field, $"may hold at most {maxCount} items.");
        }

        for (var i = 0; i < values.Count; i++)
        {
            OptionalId($"{field}[{i}]", values[i] ?? string.Empty);
        }
    }

    /// <summary>Required text of at most <paramref name="maxLength"/> characters.</summary>
    public void Text(string field, string? value, int maxLength)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            Add(field, "is required.");
        }
        else
        {
            OptionalText(field, value, maxLength);
        }
    }

    /// <summary>Text when present: at most <paramref name="maxLength"/> characters, valid Unicode, no control characters but line breaks and tabs.</summary>
    public void OptionalText(string field, string? value, int maxLength)
    {
        if (value is null)
        {
            return;
        }

        if (value.Length > maxLength)
        {
            Add(field, $"must be at most {maxLength} characters.");
        }

        if (!IsCleanText(value))
        {
            Add(field, "must be valid Unicode without control characters.");
        }
    }

    /// <summary>A number in a range when present.</summary>
    public void Range(string field, int? value, int min, int max)
    {
        if (value is { } number && (number < min || number > max))
        {
            Add(field, $"must be between {min} and {max}.");
        }
    }

    /// <summary>
    /// Free-form JSON when present: at most <paramref name="maxBytes"/> bytes of UTF-8, nested at most
    /// <see cref="MaxJsonDepth"/> levels, with valid text only.
    /// </summary>
    public void Json(string field, JsonElement? value, int maxBytes)
    {
        if (value is not { } json)
        {
            return;
        }

        if (Encoding.UTF8.GetByteCount(json.GetRawText()) > maxBytes)
        {
            Add(field, $"must be at most {maxBytes / 1024} KiB of JSON.");
        }
        else if (!IsStorable(json))
        {
            Add(field, $"must nest at most {MaxJsonDepth} levels deep, and its text must be valid Unicode (an escaped surrogate needs its pair).");
        }
    }

    /// <summary>
    /// How deep a client's JSON document may nest. Views and event envelopes carry it a few levels deeper, and JSON
    /// serialization stops at 64; a document accepted here must be one the grain can store and report.
    /// </summary>
    public const int MaxJsonDepth = 32;

    private static bool IsStorable(JsonElement json)
    {
        try
        {
            return IsStorable(json, depth: 1);
        }
        catch (InvalidOperationException)
        {
            return false; // an escaped string the reader cannot turn into text
        }
    }

    private static bool IsStorable(JsonElement json, int depth) => json.ValueKind switch
    {
        JsonValueKind.Object => depth <= MaxJsonDepth
            && json.EnumerateObject().All(property => IsCleanText(property.Name, allowControlCharacters: true) && IsStorable(property.Value, depth + 1)),
        JsonValueKind.Array => depth <= MaxJsonDepth && json.EnumerateArray().All(item => IsStorable(item, depth + 1)),
        JsonValueKind.String => IsCleanText(json.GetString()!, allowControlCharacters: true),
        _ => true,
    };

    /// <summary>The 400 <c>validation_failed</c> answer.</summary>
    public ProblemHttpResult Problem()
    {
        var problem = new HttpValidationProblemDetails(_errors.ToDictionary(pair => pair.Key, pair => pair.Value.ToArray(), StringComparer.Ordinal))
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "One or more fields are invalid.",
            Type = "https://tools.ietf.org/html/rfc9110#section-15.5.1",
            Detail = string.Join(" ", _errors.Select(pair => $"{pair.Key} {string.Join(" ", pair.Value)}")),
            Extensions = { ["code"] = ApiProblems.ValidationFailed },
        };
        return TypedResults.Problem(problem);
    }

    /// <summary>
    /// Valid UTF-16 (every surrogate in a pair), so it can be written out again; and, unless
    /// <paramref name="allowControlCharacters"/>, without control characters other than line breaks and tabs.
    /// </summary>
    private static bool IsCleanText(string value, bool allowControlCharacters = false)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= value.Length || !char.IsLowSurrogate(value[i + 1]))
                {
                    return false;
                }

                i++;
            }
            else if (char.IsLowSurrogate(c) || (!allowControlCharacters && char.IsControl(c) && c is not ('\n' or '\r' or '\t')))
            {
                return false;
            }
        }

        return true;
    }
}
