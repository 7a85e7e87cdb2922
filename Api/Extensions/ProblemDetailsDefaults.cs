using System.Diagnostics;

namespace Orchestration.Api.Extensions;

/// <summary>Adds the fields API.md promises on every problem: a stable <c>code</c> and the <c>traceId</c>.</summary>
internal static class ProblemDetailsDefaults
{
    public static void Customize(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        // The trace id alone, as events carry it (ASP.NET Core puts the whole traceparent here): a client finds the
        // problem's request and the events it raised by one value.
        problem.Extensions["traceId"] = Activity.Current?.TraceId.ToHexString() ?? context.HttpContext.TraceIdentifier;
        problem.Extensions.TryAdd("code", problem.Status switch
        {
            StatusCodes.Status400BadRequest => "bad_request",
            StatusCodes.Status401Unauthorized => "unauthorized",
            StatusCodes.Status403Forbidden => "forbidden",
            StatusCodes.Status404NotFound => "not_found",
            StatusCodes.Status405MethodNotAllowed => "method_not_allowed",
            StatusCodes.Status409Conflict => "conflict",
            StatusCodes.Status413PayloadTooLarge => "payload_too_large",
            StatusCodes.Status415UnsupportedMediaType => "unsupported_media_type",
            StatusCodes.Status422UnprocessableEntity => "unprocessable",
            StatusCodes.Status429TooManyRequests => "rate_limited",
            StatusCodes.Status503ServiceUnavailable => "unavailable",
            _ => "internal_error",
        });
        problem.Detail ??= problem.Status switch
        {
            StatusCodes.Status400BadRequest => "The request could not be read.",
            StatusCodes.Status404NotFound => $"Nothing is found at {context.HttpContext.Request.Path}.",
            StatusCodes.Status405MethodNotAllowed => $"{context.HttpContext.Request.Method} is not allowed on {context.HttpContext.Request.Path}.",
            StatusCodes.Status413PayloadTooLarge => "The request body is larger than the server accepts.",
            StatusCodes.Status415UnsupportedMediaType => "Send the body as JSON (Content-Type: application/json).",
            StatusCodes.Status500InternalServerError => "The server failed to handle the request; the traceId identifies it in the logs.",
            _ => null,
        };
    }
}
