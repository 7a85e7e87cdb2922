using Orchestration.Runtime.Persistence;

namespace Orchestration.Runtime.Activations;

/// <summary>
/// One call (or timer tick, or activation step) of one activation, as its code sees it: the events it raised so far.
/// It flows with the call's async code (an <see cref="AsyncLocal{T}"/>), so interleaved calls of one activation never
/// share an outbox: each call's events commit with its own write, or are dropped with its own failure.
/// </summary>
internal sealed class CallContext(ActivationData activation)
{
    private static readonly AsyncLocal<CallContext?> s_current = new();

    private List<EventDraft>? _outbox;

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

    public bool HasEvents => _outbox is { Count: > 0 };

    public void Add(EventDraft draft) => (_outbox ??= []).Add(draft);

    /// <summary>Hands the events raised so far to a commit; they leave the outbox whether or not it succeeds.</summary>
    public IReadOnlyList<EventDraft> Drain()
    {
        if (_outbox is not { Count: > 0 })
        {
            return [];
        }

        var events = _outbox.ToArray();
        _outbox.Clear();
        return events;
    }

    /// <summary>Ends the call. A failed call publishes nothing it did not already commit.</summary>
    public void Finish(bool failed)
    {
        if (failed)
        {
            _outbox?.Clear();
        }

        IsFinished = true;
    }
}
