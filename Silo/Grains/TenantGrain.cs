using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Orchestration.Grains;
using Orchestration.Grains.Events;
using Orchestration.Runtime;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Streams;

namespace Orchestration.Silo.Grains;

/// <summary>
/// Base of the grains that live inside one organisation (key <c>{orgId}/{id}</c>): the one place that parses their key,
/// raises their events and writes their projection row, so every event and row carries its organisation.
/// </summary>
internal abstract class TenantGrain(TimeProvider timeProvider) : Grain, IIncomingGrainCallFilter
{
    private static readonly TimeSpan s_reminderResolution = TimeSpan.FromMicroseconds(1);

    /// <summary>
    /// A rejection (<see cref="OrchestrationException"/>) is decided before a call changes anything. Any other failure
    /// may come after the call changed its state in memory and before that change was stored: an event whose payload
    /// does not serialize, a write that failed or timed out, a call to another grain that failed. The activation then
    /// leaves, so the next call reads what storage has instead of acting on a change nobody stored.
    /// </summary>
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception exception) when (exception is not OrchestrationException)
        {
            DeactivateOnIdle();
            throw;
        }
    }

    /// <summary>The organisation this grain belongs to.</summary>
    protected string OrgId => TenantKey.Of(GetPrimaryKeyString());

    /// <summary>The grain's id inside its organisation.</summary>
    protected string Id => GetPrimaryKeyString()[(OrgId.Length + 1)..];

    /// <summary>The collection this grain is projected to and named by in event subjects, for example <c>tasks</c>.</summary>
    protected abstract string Collection { get; }

    /// <summary>The clock; never the wall clock directly, so tests control time.</summary>
    protected TimeProvider Clock => timeProvider;

    /// <summary>The grain key of <paramref name="id"/> in this grain's organisation.</summary>
    protected string KeyInOrg(string id) => $"{OrgId}/{id}";

    /// <summary>
    /// Raises an event about this grain. It joins the current call's outbox and commits with the call's next state write.
    /// </summary>
    protected Task RaiseAsync<TPayload>(string type, TPayload payload, JsonTypeInfo<TPayload> payloadType, EventActor actor, string? correlationId)
    {
        var subject = $"{Collection}/{Id}";
        var envelope = new EventEnvelope(
            Guid.CreateVersion7(timeProvider.GetUtcNow()).ToString("N"),
            type,
            timeProvider.GetUtcNow(),
            OrgId,
            actor,
            subject,
            correlationId,
            Activity.Current?.TraceId.ToHexString(),
            JsonSerializer.SerializeToElement(payload, payloadType));
        return GetStream<EventEnvelope>(new StreamId(StreamNamespaces.Events, $"{OrgId}/{subject}")).OnNextAsync(envelope);
    }

    /// <summary>Sets this grain's projection row; it commits with the call's next state write.</summary>
    protected void ProjectAs<TView>(TView view, JsonTypeInfo<TView> viewType, string? status, string? owner = null, string? group = null) =>
        Project(new ProjectionRow(Collection, OrgId, Id, JsonSerializer.Serialize(view, viewType)) { Status = status, Owner = owner, Group = group });

    /// <summary>
    /// Whether a reminder that fired at <paramref name="now"/> has reached <paramref name="moment"/>. Reminders keep due
    /// times to the microsecond (as Postgres does), so one set for a moment may fire up to a microsecond before it;
    /// re-arming it for the remaining fraction would fire it again at once, forever.
    /// </summary>
    protected static bool HasReached(DateTimeOffset now, DateTimeOffset moment) => now > moment - s_reminderResolution;

    /// <summary>
    /// Sets the one-shot reminder <paramref name="name"/> for <paramref name="moment"/>, which the grain records as the
    /// moment something falls due: the due time is taken from the clock after the moment was, so the tick never comes
    /// before it (a tick a few microseconds early would find it not reached and cost a commit to re-arm).
    /// </summary>
    protected Task RemindAtAsync(string name, DateTimeOffset moment)
    {
        var due = moment - timeProvider.GetUtcNow();
        return RegisterOrUpdateReminder(name, due > TimeSpan.Zero ? due : TimeSpan.Zero, TimeSpan.Zero);
    }

    /// <summary>The JSON name of an enum value (as clients and projection filters see it), for example <c>dead_lettered</c>.</summary>
    protected static string JsonName<TEnum>(TEnum value, JsonTypeInfo<TEnum> type) where TEnum : struct, Enum =>
        JsonSerializer.Serialize(value, type).Trim('"');
}
