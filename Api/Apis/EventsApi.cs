using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Orchestration.Api.Auth;
using Orchestration.Api.Contracts;
using Orchestration.Api.Events;
using Orchestration.Api.Extensions;
using Orchestration.Grains.Keys;
using Orchestration.Runtime;
using Orchestration.Runtime.Streams;

namespace Orchestration.Api.Apis;

/// <summary><c>/api/v1/events</c>: the organisation's event log, as pages or as a Server-Sent Events stream.</summary>
internal static class EventsApi
{
    public static IEndpointRouteBuilder MapEventsApi(this IEndpointRouteBuilder routes)
    {
        var events = routes.MapResourceGroup("/api/v1/events", "Events");
        events.MapGet("", ListEventsAsync).WithName("ListEvents");
        events.MapGet("stream", StreamEventsAsync).WithName("StreamEvents")
            .Produces<ApiEvent>(StatusCodes.Status200OK, "text/event-stream");
        return routes;
    }

    private static async Task<Results<Ok<EventPage>, ProblemHttpResult>> ListEventsAsync(
        string? after, string? limit, Caller caller, IStreamLog log, CancellationToken cancellationToken)
    {
        var validator = new RequestValidator();
        var start = Sequence(validator, "after", after) ?? 0;
        var pageSize = ApiGroups.Limit(validator, limit, null);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        // One more than the page: a full page is the end when nothing follows it (next is null only at the end).
        var entries = await log.ReadAsync(start, pageSize + 1, caller.OrgId, cancellationToken);
        var page = entries.Take(pageSize).ToList();
        var items = page.Select(entry => ApiEvents.From(entry, caller.OrgId)).OfType<ApiEvent>().ToList();
        return TypedResults.Ok(new EventPage(items, entries.Count > pageSize ? page[^1].Sequence : null));
    }

    private static async Task<Results<EmptyHttpResult, ProblemHttpResult>> StreamEventsAsync(
        HttpContext context, string? after, string? types, string? subject, string? correlationId, Caller caller,
        IStreamLog log, IGrainFactory grains, TimeProvider timeProvider, IOptions<ApiOptions> options, ILogger<EventStreamWriter> logger)
    {
        var validator = new RequestValidator();
        var lastEventId = context.Request.Headers["Last-Event-ID"].ToString();
        var start = lastEventId.Length > 0 ? Sequence(validator, "Last-Event-ID", lastEventId) : Sequence(validator, "after", after);
        var filter = EventFilter.Parse(types, subject, correlationId, validator);
        if (validator.HasErrors)
        {
            return validator.Problem();
        }

        // Neither given: the live end, read from storage. This process's LastSequence trails it while other processes'
        // commits are on their way here (cluster mode), and starting there would send events from before the client came.
        var key = grains.GetGrain<IApiKeyGrain>(caller.KeyId);
        await new EventStreamWriter(log, timeProvider, options.Value, logger)
            .WriteAsync(context, caller.OrgId, start ?? await log.ReadLastSequenceAsync(context.RequestAborted), filter,
                async () => (await key.GetAsync()).RevokedAt is null);
        return TypedResults.Empty;
    }

    private static long? Sequence(RequestValidator validator, string field, string? value)
    {
        if (value is null)
        {
            return null;
        }

        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
        {
            return sequence;
        }

        validator.Add(field, "must be an event sequence (a whole number, 0 or more).");
        return null;
    }
}
