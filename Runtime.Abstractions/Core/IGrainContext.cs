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
    /// Completes once the reminder is durable.
    /// </summary>
    /// <param name="reminderName">Unique per grain.</param>
    /// <param name="dueTime">Time until the first tick (at least 100 ms is honoured precisely).</param>
    /// <param name="period">Time between ticks; <see cref="TimeSpan.Zero"/> for a one-shot reminder removed after it fires.</param>
    Task RegisterOrUpdateReminder(string reminderName, TimeSpan dueTime, TimeSpan period);

    /// <summary>Removes a reminder; completes once the removal is durable. Unknown names are ignored.</summary>
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
