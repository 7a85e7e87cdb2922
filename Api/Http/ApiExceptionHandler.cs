using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Orchestration.Grains;
using Orchestration.Runtime;

namespace Orchestration.Api;

/// <summary>
/// Maps exceptions to problem responses in one place: grains' <see cref="OrchestrationException"/> by code, unreadable
/// or oversized bodies to 400 <c>invalid_json</c> / 413 <c>payload_too_large</c>, runtime failures that cut a request
/// short (<see cref="Interrupted"/>) to 503. Anything else is left to the default handler (500).
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

        if (problem.Status == StatusCodes.Status503ServiceUnavailable)
        {
            ReportInterrupted(httpContext, exception);
        }

        if (!httpContext.Response.HasStarted)
        {
            httpContext.Response.Clear();
            await ApiProblems.WriteAsync(problems, httpContext, problem.Status, problem.Code, problem.Detail);
        }

        return true;
    }

    /// <summary>The problem <paramref name="exception"/> is answered with; <c>null</c> when it is not mapped (500).</summary>
    internal static (int Status, string Code, string Detail)? Map(Exception exception) => exception switch
    {
        OrchestrationException domain => (ApiProblems.StatusOf(domain.Code), domain.Code, domain.Message),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
            (StatusCodes.Status413PayloadTooLarge, ApiProblems.PayloadTooLarge, "The request body is larger than the server accepts."),
        BadHttpRequestException { InnerException: JsonException json } => InvalidJson(json),
        BadHttpRequestException bad when bad.Message.Contains("body", StringComparison.OrdinalIgnoreCase) =>
            (StatusCodes.Status400BadRequest, ApiProblems.InvalidJson, "A JSON body is required (Content-Type: application/json)."),
        BadHttpRequestException bad => (bad.StatusCode, bad.StatusCode == 400 ? "bad_request" : ApiProblems.InvalidJson, bad.Message),
        JsonException json => InvalidJson(json),
        _ when Interrupted(exception) is { } interrupted =>
            (StatusCodes.Status503ServiceUnavailable, ApiProblems.Unavailable, $"{interrupted} Check its outcome before sending it again."),
        _ => null,
    };

    /// <summary>
    /// What can be said of a request that a runtime failure cut short, or <c>null</c> for other exceptions. None of them
    /// proves that nothing was applied: a call that timed out runs on and may commit, a silo that became unreachable may
    /// have run it, and a grain passes on the rejection or refused write of a call it made after its own write (a task is
    /// stored before it is offered to the queue), so the outcome is unknown.
    /// </summary>
    internal static string? Interrupted(Exception exception) => exception switch
    {
        GrainCallTimeoutException => "The request did not complete in time and may still take effect.",
        GrainOverloadedException => "The server was too busy to complete the request, which may or may not have taken effect.",
        SiloUnavailableException => "A server process became unreachable while handling the request, which may or may not have taken effect.",
        GrainOwnershipLostException => "The request met a change of server ownership before it completed, and may or may not have taken effect.",
        _ => null,
    };

    /// <summary>
    /// Logs a request that a runtime failure cut short (answered 503): the client sees only that its outcome is unknown;
    /// the log keeps which server and which call, to tell a failover's few from something wrong.
    /// </summary>
    internal void ReportInterrupted(HttpContext httpContext, Exception exception) =>
        LogInterrupted(logger, httpContext.Request.Method, httpContext.Request.Path, exception.GetType().Name, exception.Message);

    private static (int, string, string) InvalidJson(JsonException json) =>
        (StatusCodes.Status400BadRequest, ApiProblems.InvalidJson,
            json.Path is { Length: > 0 } path
                ? $"The body is not valid for this request at '{path}': malformed JSON, a wrong type or an unknown value."
                : "The body is not valid JSON.");

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Path} answered 503, its outcome unknown: {ExceptionType}: {Reason}")]
    private static partial void LogInterrupted(ILogger logger, string method, PathString path, string exceptionType, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The client of {Path} went away before the answer")]
    private static partial void LogClientGone(ILogger logger, PathString path);
}
