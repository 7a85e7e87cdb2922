using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Orchestration.Grains;
using Orchestration.Runtime;

namespace Orchestration.Api;

/// <summary>
/// Maps exceptions to problem responses in one place: grains' <see cref="OrchestrationException"/> by code, unreadable
/// or oversized bodies to 400 <c>invalid_json</c> / 413 <c>payload_too_large</c>, runtime overload to 503. Anything else
/// is left to the default handler (500).
/// </summary>
internal sealed partial class ApiExceptionHandler(IProblemDetailsService problems, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (Map(exception) is not { } problem)
        {
            if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
            {
                LogClientGone(logger, httpContext.Request.Path);
                return true; // nobody is listening
            }

            return false;
        }

        if (!httpContext.Response.HasStarted)
        {
            httpContext.Response.Clear();
            await ApiProblems.WriteAsync(problems, httpContext, problem.Status, problem.Code, problem.Detail);
        }

        return true;
    }

    private static (int Status, string Code, string Detail)? Map(Exception exception) => exception switch
    {
        OrchestrationException domain => (ApiProblems.StatusOf(domain.Code), domain.Code, domain.Message),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
            (StatusCodes.Status413PayloadTooLarge, ApiProblems.PayloadTooLarge, "The request body is larger than the server accepts."),
        BadHttpRequestException { InnerException: JsonException json } => InvalidJson(json),
        BadHttpRequestException bad when bad.Message.Contains("body", StringComparison.OrdinalIgnoreCase) =>
            (StatusCodes.Status400BadRequest, ApiProblems.InvalidJson, "A JSON body is required (Content-Type: application/json)."),
        BadHttpRequestException bad => (bad.StatusCode, bad.StatusCode == 400 ? "bad_request" : ApiProblems.InvalidJson, bad.Message),
        JsonException json => InvalidJson(json),
        GrainCallTimeoutException or GrainOverloadedException =>
            (StatusCodes.Status503ServiceUnavailable, ApiProblems.Unavailable, "The server is busy; retry shortly."),
        SiloUnavailableException =>
            (StatusCodes.Status503ServiceUnavailable, ApiProblems.Unavailable,
                "A server process became unreachable while handling the request; it may or may not have taken effect. Retry with the same Idempotency-Key."),
        GrainOwnershipLostException =>
            (StatusCodes.Status503ServiceUnavailable, ApiProblems.Unavailable, "The request met a change of server ownership and was not applied; retry shortly."),
        _ => null,
    };

    private static (int, string, string) InvalidJson(JsonException json) =>
        (StatusCodes.Status400BadRequest, ApiProblems.InvalidJson,
            json.Path is { Length: > 0 } path
                ? $"The body is not valid for this request at '{path}': malformed JSON, a wrong type or an unknown value."
                : "The body is not valid JSON.");

    [LoggerMessage(Level = LogLevel.Debug, Message = "The client of {Path} went away before the answer")]
    private static partial void LogClientGone(ILogger logger, PathString path);
}
