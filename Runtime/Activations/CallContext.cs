using Orchestration.Runtime.Persistence;

namespace Orchestration.Runtime.Activations;

/// <summary>
/// One call (or timer tick, or activation step) of one activation, as its code sees it: the events, projection
/// changes and reminder changes it raised so far (its outbox). It flows with the call's async code (an <see cref="AsyncLocal{T}"/>), so
/// interleaved calls of one activation never share an outbox: each call's outbox commits with its own write, or is
/// dropped with its own failure.
/// </summary>
internal sealed class CallContext(ActivationData activation)
{
    private static readonly AsyncLocal<CallContext?> s_current = new();

    private List<EventDraft>? _events;
    private List<ProjectionChange>? _projections;
    private List<ReminderChange>? _reminders;

    public ActivationData Activation { get; } = activation;

    /// <summary>Set when the call has finished; events raised later (by work it left running) commit on their own.</summary>
    public bool IsFinished { get; private set; }

    /// <summary>The call whose code is running, or null outside grain code.</summary>
    public static CallContext? Current => s_current.Value;

    /// <summary>
    /// Makes <paramref name="context"/> current. Call it only at the start of an async method: when that method first
    /// yields or returns, its caller gets its own execution context back, so the call's context never leaks out.
    /// </summary>
    public static void Enter(CallContext context) => s_current.Value = context;

    public bool HasPending => _events is { Count: > 0 } || _projections is { Count: > 0 } || _reminders is { Count: > 0 };

    public void Add(EventDraft draft) => (_events ??= []).Add(draft);

    public void Add(ProjectionChange change) => (_projections ??= []).Add(change);

    public void Add(ReminderChange change) => (_reminders ??= []).Add(change);

    /// <summary>Hands what was raised so far to a commit; it leaves the outbox whether or not the commit succeeds.</summary>
    public CallOutbox Drain()
    {
        if (!HasPending)
        {
            return CallOutbox.Empty;
        }

        return new CallOutbox(Take(_events), Take(_projections), Take(_reminders));

        static IReadOnlyList<T> Take<T>(List<T>? list)
        {
            if (list is not { Count: > 0 })
            {
                return [];
            }

            var items = list.ToArray();
            list.Clear();
            return items;
        }
    }

    /// <summary>Ends the call. A failed call publishes nothing it did not already commit.</summary>
    public void Finish(bool failed)
    {
        if (failed)
        {
            _events?.Clear();
            _projections?.Clear();
            _reminders?.Clear();
        }

        IsFinished = true;
    }
}
