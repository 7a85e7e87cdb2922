using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Orchestration.Api.Auth;
using Orchestration.Api.Extensions;
using Orchestration.Grains.Idempotency;
using Orchestration.Runtime;

namespace Orchestration.Api;

/// <summary>
/// <c>Idempotency-Key</c> on POST (API.md, "Conventions"): scoped to the calling key, method and path (<see cref="RouteOf"/>), kept by an
/// <see cref="IIdempotencyGrain"/> so a repeat is replayed on any process, also after a restart. Every answer is
/// recorded and replayed, failures included: a failure whose outcome is unknown is answered (503, or 500 when unmapped)
/// and recorded, so a retry with the same key never applies the request a second time. A process that dies mid-request
/// records nothing, and its key is free again after the in-flight deadline; the record has reserved an id, the same in
/// every run, which names whatever the request creates unnamed (<see cref="Ids.NewFor"/>) and is the token a created
/// object keeps, so that retry finds the object instead of creating another (ADR 10).
/// </summary>
internal sealed partial class IdempotencyMiddleware(
    RequestDelegate next,
    IGrainFactory grains,
    IOptions<ApiOptions> options,
    IProblemDetailsService problems,
    ApiExceptionHandler exceptionHandler,
    TimeProvider timeProvider,
    ILogger<IdempotencyMiddleware> logger)
{
    /// <summary>The request header.</summary>
    public const string HeaderName = "Idempotency-Key";

    /// <summary>The header set on replayed answers.</summary>
    public const string ReplayedHeaderName = "Idempotent-Replayed";

    /// <summary>How long an answer's recording is tried again while its grain is cut off (a failover takes a few seconds).</summary>
    private static readonly TimeSpan s_recordFor = TimeSpan.FromSeconds(15);

    private const int MaxKeyLength = 255;

    public async Task InvokeAsync(HttpContext context)
    {
        if (!HttpMethods.IsPost(context.Request.Method) || !context.Request.Headers.TryGetValue(HeaderName, out var values)
            || Caller.From(context.User) is not { } caller)
        {
            await next(context);
            return;
        }

        var idempotencyKey = values.ToString();
        if (idempotencyKey.Length is 0 or > MaxKeyLength || idempotencyKey.Any(c => c is < (char)0x21 or > (char)0x7e))
        {
            await ApiProblems.WriteAsync(problems, context, StatusCodes.Status400BadRequest, ApiProblems.ValidationFailed,
                $"{HeaderName} must be 1 to {MaxKeyLength} visible ASCII characters.");
            return;
        }

        context.Request.EnableBuffering();
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        context.Request.Body.Position = 0;
        var bytes = body.GetBuffer().AsMemory(0, (int)body.Length);
        var requestHash = CanonicalJson.Hash(bytes);

        var scope = $"{caller.KeyId}\n{context.Request.Method}\n{RouteOf(context)}\n{idempotencyKey}";
        var grain = grains.GetGrain<IIdempotencyGrain>(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(scope))));
        var begun = await grain.BeginAsync(new IdempotencyBegin(requestHash, options.Value.IdempotencyInFlightTimeout, options.Value.IdempotencyRetention)
        {
            EarlierFormHash = CanonicalJson.HashWithNumbersAsWritten(bytes),
            ProposedId = Ids.New(timeProvider),
        });
        switch (begun.Outcome)
        {
            case IdempotencyOutcome.Mismatch:
                await ApiProblems.WriteAsync(problems, context, StatusCodes.Status422UnprocessableEntity, ApiProblems.IdempotencyKeyReused,
                    $"This {HeaderName} was used with a different body; use a new key for a different request.");
                return;
            case IdempotencyOutcome.InFlight:
                await ApiProblems.WriteAsync(problems, context, StatusCodes.Status409Conflict, ApiProblems.IdempotencyKeyInUse,
                    $"A request with this {HeaderName} is still in flight; retry when it has been answered.");
                return;
            case IdempotencyOutcome.Completed when begun.Response is { } stored:
                await ReplayAsync(context, stored);
                return;
        }

        if (begun.ReservedId is { } reserved)
        {
            context.Features.Set(new ReservedIdFeature(reserved, begun.IsRerun));
        }

        await RunAndRecordAsync(context, grain, begun.RunId ?? requestHash); // a silo of the previous release names no run
    }

    /// <summary>
    /// The id the request's <c>Idempotency-Key</c> reserved for what it creates, if it has one: the same in every run of
    /// the key, so a run after a crashed one finds what that run created (see <see cref="Ids.NewFor"/>).
    /// </summary>
    public static string? ReservedId(HttpContext context) => context.Features.Get<ReservedIdFeature>()?.Id;

    /// <summary>Whether an earlier run of the request's <c>Idempotency-Key</c> was never answered and may have taken effect.</summary>
    public static bool IsRerun(HttpContext context) => context.Features.Get<ReservedIdFeature>()?.IsRerun == true;

    private sealed record ReservedIdFeature(string Id, bool IsRerun);

    private async Task RunAndRecordAsync(HttpContext context, IIdempotencyGrain grain, string runId)
    {
        var bodyFeature = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
        using var captured = new MemoryStream();
        context.Response.Body = captured;
        try
        {
            await next(context);
        }
        catch (Exception exception) when (!context.Response.HasStarted)
        {
            // A mapped problem is an answer like any other. A failure that cannot be answered any more (the response
            // has started) propagates and leaves the record in flight until its timeout.
            if (ApiExceptionHandler.Map(exception) is { Status: < 500 })
            {
                await exceptionHandler.TryHandleAsync(context, exception, context.RequestAborted);
            }
            else
            {
                await WriteOutcomeUnknownAsync(context, exception);
            }
        }
        finally
        {
            context.Features.Set(bodyFeature);
        }

        var location = context.Response.Headers.Location.ToString();
        await RecordAsync(grain, runId, new IdempotentResponse(context.Response.StatusCode, context.Response.ContentType,
            location.Length > 0 ? location : null, captured.ToArray()));
        captured.Position = 0;
        await captured.CopyToAsync(context.Response.Body, context.RequestAborted);
    }

    /// <summary>
    /// Records the answer, trying again for <see cref="s_recordFor"/> when the record's grain was cut off (its silo died
    /// or handed it over: a failover takes a few seconds). The request has taken effect: answered 503, the client would
    /// retry, and once the record's in-flight deadline passed the retry would apply it a second time. If it still cannot
    /// be recorded, the client gets the real answer all the same (logged); only a retry after the deadline can repeat it.
    /// </summary>
    private async Task RecordAsync(IIdempotencyGrain grain, string runId, IdempotentResponse response)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            try
            {
                await grain.CompleteAsync(runId, response);
                return;
            }
            catch (Exception exception) when (ApiExceptionHandler.Interrupted(exception) is not null)
            {
                if (Stopwatch.GetElapsedTime(started) + delay > s_recordFor)
                {
                    LogNotRecorded(logger, exception);
                    return;
                }

                // Real time, not the injected clock: this waits for a failover, which tests do not simulate by moving a clock.
                await Task.Delay(delay);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
        }
    }

    /// <summary>
    /// Answers a failure that may have come after the request reached the grains, where it can have committed (see
    /// <see cref="ApiExceptionHandler.Interrupted"/>; an unmapped exception or a client gone away may equally follow a
    /// commit). Freeing the key would let the retry apply the request twice (a second task, a second claim), so this
    /// answer is recorded and replayed, and says so: the client learns the outcome by looking, not by retrying.
    /// </summary>
    private async Task WriteOutcomeUnknownAsync(HttpContext context, Exception exception)
    {
        var (status, code, what) = ApiExceptionHandler.Interrupted(exception) is { } interrupted
            ? (StatusCodes.Status503ServiceUnavailable, ApiProblems.Unavailable, interrupted)
            : exception is OperationCanceledException && context.RequestAborted.IsCancellationRequested
                ? (StatusCodes.Status503ServiceUnavailable, ApiProblems.Unavailable,
                    "The request was cancelled as its client went away, and may or may not have taken effect.")
                : (StatusCodes.Status500InternalServerError, "internal_error",
                    "The server failed while handling the request (the traceId identifies it in the logs), which may or may not have taken effect.");
        if (status == StatusCodes.Status500InternalServerError)
        {
            LogUnhandled(logger, context.Request.Path, exception);
        }
        else
        {
            exceptionHandler.ReportInterrupted(context, exception);
        }

        context.Response.Clear();
        await ApiProblems.WriteAsync(problems, context, status, code,
            $"{what} A retry with the same {HeaderName} is answered with this again and never applies the request twice; check its outcome before sending it with a new key.");
    }

    /// <summary>
    /// The endpoint's route pattern and the route values it was given, not the path as sent: routing matches literal
    /// segments in any case ("/API/v1/Tasks" reaches the tasks endpoint), while ids are case-sensitive.
    /// </summary>
    private static string RouteOf(HttpContext context)
    {
        if (context.GetEndpoint() is not RouteEndpoint { RoutePattern: { RawText: { } pattern } parsed })
        {
            return context.Request.Path.ToString();
        }

        var route = new StringBuilder(pattern);
        foreach (var parameter in parsed.Parameters)
        {
            route.Append('\n').Append(context.Request.RouteValues[parameter.Name]);
        }

        return route.ToString();
    }

    private static async Task ReplayAsync(HttpContext context, IdempotentResponse stored)
    {
        context.Response.StatusCode = stored.StatusCode;
        if (stored.ContentType is not null)
        {
            context.Response.ContentType = stored.ContentType;
        }

        if (stored.Location is not null)
        {
            context.Response.Headers.Location = stored.Location;
        }

        context.Response.Headers[ReplayedHeaderName] = "true";
        if (stored.Body.Length > 0)
        {
            // A 204 (a claim that found nothing) has no body, and Kestrel refuses even an empty write to one.
            await context.Response.Body.WriteAsync(stored.Body, context.RequestAborted);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A request's answer could not be recorded for its Idempotency-Key; it is sent all the same, and a retry after the in-flight deadline would run it again")]
    private static partial void LogNotRecorded(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "An unhandled exception ended a request to {Path}; its answer is kept for its Idempotency-Key")]
    private static partial void LogUnhandled(ILogger logger, PathString path, Exception exception);
}
