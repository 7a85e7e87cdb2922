using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Timers;

namespace Orchestration.Runtime;

/// <summary>What the runtime gives one activation: its identity, its factory and its lifecycle controls.</summary>
public interface IGrainContext
{
    /// <summary>The activation's grain id.</summary>
    GrainId GrainId { get; }

    /// <summary>A factory for calling other grains.</summary>
    IGrainFactory GrainFactory { get; }

    /// <summary>Asks the runtime to deactivate this activation once the current call completes.</summary>
    void DeactivateOnIdle();

    /// <summary>
    /// Registers a timer that lives as long as this activation (it is not durable; use a reminder for that).
    /// Each tick is delivered as a turn of its own; a tick never overlaps the previous tick's callback.
    /// </summary>
    IGrainTimer RegisterGrainTimer(Func<CancellationToken, Task> callback, GrainTimerCreationOptions options);

    /// <summary>
    /// Registers or updates a durable reminder: it is stored with the grain's storage, survives restarts and wakes
    /// the grain (through <see cref="Reminders.IRemindable"/>) even when it is not active.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Inside a call (or timer tick, or activation step) of this grain, the registration joins that call's outbox, like a
    /// stream item or a projection row: it is durable once the call's next state write (<c>WriteStateAsync</c> or
    /// <c>ClearStateAsync</c>) has committed — in the same transaction, so register-then-write costs one commit and
    /// the reminder is never stored without that state — or, when the call writes nothing after it, once the call has
    /// ended, before its caller gets the response. A failed call, or a state write that hits a version conflict,
    /// commits none of it. The returned task completes at once; the reminder is scheduled (and
    /// <see cref="Reminders.IRemindable.ReceiveReminder"/> can fire) only after the commit.
    /// </para>
    /// <para>
    /// Outside a call (work a finished call left running), the registration commits on its own and the returned task
    /// completes once it is durable and scheduled.
    /// </para>
    /// <para>Invalid arguments, or a grain that does not implement <see cref="Reminders.IRemindable"/>, throw here.</para>
    /// </remarks>
    /// <param name="reminderName">Unique per grain.</param>
    /// <param name="dueTime">Time until the first tick (at least 100 ms is honoured precisely), counted from this call.</param>
    /// <param name="period">Time between ticks; <see cref="TimeSpan.Zero"/> for a one-shot reminder removed after it fires.</param>
    Task RegisterOrUpdateReminder(string reminderName, TimeSpan dueTime, TimeSpan period);

    /// <summary>
    /// Removes a reminder, on the same terms as <see cref="RegisterOrUpdateReminder"/>: inside a call, durable with the
    /// call's next state write or at the end of the call, dropped if the call fails, and the returned task completes at
    /// once; outside a call, the returned task completes once the removal is durable. Unknown names are ignored.
    /// </summary>
    Task UnregisterReminder(string reminderName);

    /// <summary>
    /// Returns a stream to publish on. Items published during a call are committed with that call's state write
    /// (or alone at the end of the call when it writes nothing) and are published only if that commit succeeds.
    /// </summary>
    IAsyncStream<T> GetStream<T>(StreamId streamId);

    /// <summary>
    /// Sets a projection row (see <see cref="Projections.ProjectionRow"/>). Like a stream item, it joins the current call's
    /// outbox and commits with that call's state write (or alone at the end of the call when it writes nothing); a failed
    /// call commits none. The last row set for one collection, tenant and id wins.
    /// </summary>
    void Project(Projections.ProjectionRow row);

    /// <summary>Removes a projection row, on the same terms as <see cref="Project"/>. Unknown rows are ignored.</summary>
    void RemoveProjection(string collection, string tenant, string id);
}
