using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Orchestration.Grains;

namespace Orchestration.Api;

/// <summary>The Api's problem codes and the one place that turns them into HTTP statuses and RFC 9457 bodies.</summary>
internal static class ApiProblems
{
    /// <summary>401: missing, malformed or revoked key.</summary>
    public const string Unauthorized = "unauthorized";

    /// <summary>403: the key's role may not do this.</summary>
    public const string Forbidden = "forbidden";

    /// <summary>400: the request's fields break the rules; <c>errors</c> lists every one.</summary>
    public const string ValidationFailed = "validation_failed";

    /// <summary>400: the body is not JSON, or not of the expected shape.</summary>
    public const string InvalidJson = "invalid_json";

    /// <summary>413: the body is larger than the limit.</summary>
    public const string PayloadTooLarge = "payload_too_large";

    /// <summary>414: the request target (path and query) is longer than the limit.</summary>
    public const string UriTooLong = "uri_too_long";

    /// <summary>431: the request's headers are larger, or more, than the limit.</summary>
    public const string HeadersTooLarge = "headers_too_large";

    /// <summary>429: the key's rate limit is used up.</summary>
    public const string RateLimited = "rate_limited";

    /// <summary>422: the <c>Idempotency-Key</c> was used with another body.</summary>
    public const string IdempotencyKeyReused = "idempotency_key_reused";

    /// <summary>409: a request with the same <c>Idempotency-Key</c> is still in flight.</summary>
    public const string IdempotencyKeyInUse = "idempotency_key_in_use";

    /// <summary>503: a runtime failure (timeout, overload, unreachable silo) cut the request short; its outcome is unknown.</summary>
    public const string Unavailable = "unavailable";

    /// <summary>The HTTP status of a grain's <see cref="OrchestrationException.Code"/>.</summary>
    public static int StatusOf(string code) => code switch
    {
        ProblemCodes.NotFound => StatusCodes.Status404NotFound,
        ProblemCodes.AlreadyExists or ProblemCodes.InvalidTransition or ProblemCodes.TaskNotClaimable
            or ProblemCodes.NotLeaseHolder or ProblemCodes.AgentNotAvailable => StatusCodes.Status409Conflict,
        ProblemCodes.InvalidRequest or ProblemCodes.DependencyNotFound => StatusCodes.Status400BadRequest,
        _ => StatusCodes.Status409Conflict,
    };

    /// <summary>A problem body with a stable <paramref name="code"/>.</summary>
    public static ProblemDetails Create(int status, string code, string detail) => new()
    {
        Status = status,
        Title = TitleOf(status),
        Type = TypeOf(status),
        Detail = detail,
        Extensions = { ["code"] = code },
    };

    /// <summary>A problem result with a stable <paramref name="code"/>.</summary>
    public static ProblemHttpResult Result(int status, string code, string detail) => TypedResults.Problem(Create(status, code, detail));

    /// <summary>403 for an agent key that names another agent.</summary>
    public static ProblemHttpResult NotYourAgent(string agentId) =>
        Result(StatusCodes.Status403Forbidden, Forbidden, $"This agent key may only act as its own agent, not as '{agentId}'.");

    /// <summary>Writes a problem response from middleware.</summary>
    public static ValueTask WriteAsync(IProblemDetailsService problems, HttpContext context, int status, string code, string detail)
    {
        context.Response.StatusCode = status;
        return problems.WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = Create(status, code, detail) });
    }

    /// <summary>The RFC 9110 title of a status.</summary>
    public static string TitleOf(int status) => status switch
    {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };

    private static string TypeOf(int status) => status switch
    {
        400 => "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        401 => "https://tools.ietf.org/html/rfc9110#section-15.5.2",
        402 => "https://tools.ietf.org/html/rfc9110#section-15.5.3",
        403 => "https://tools.ietf.org/html/rfc9110#section-15.5.4",
        404 => "https://tools.ietf.org/html/rfc9110#section-15.5.5",
        409 => "https://tools.ietf.org/html/rfc9110#section-15.5.10",
        413 => "https://tools.ietf.org/html/rfc9110#section-15.5.14",
        414 => "https://tools.ietf.org/html/rfc9110#section-15.5.15",
        415 => "https://tools.ietf.org/html/rfc9110#section-15.5.16",
        422 => "https://tools.ietf.org/html/rfc9110#section-15.5.21",
        429 => "https://tools.ietf.org/html/rfc6585#section-4",
        431 => "https://tools.ietf.org/html/rfc6585#section-5",
        503 => "https://tools.ietf.org/html/rfc9110#section-15.6.4",
        _ => "about:blank",
    };
}
