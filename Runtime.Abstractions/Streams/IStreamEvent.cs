namespace Orchestration.Runtime.Streams;

/// <summary>
/// Optional on a stream item: names its event type (for example <c>task.claimed</c>) as stored in the event log.
/// Items that do not implement it are stored under their CLR type name.
/// </summary>
public interface IStreamEvent
{
    /// <summary>The event type, used for filtering without deserializing.</summary>
    string EventType { get; }
}
