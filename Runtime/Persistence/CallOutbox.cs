namespace Orchestration.Runtime.Persistence;

/// <summary>What one call raised and has not committed yet: events and projection changes, each in the order raised.</summary>
internal sealed record CallOutbox(IReadOnlyList<EventDraft> Events, IReadOnlyList<ProjectionChange> Projections)
{
    public static CallOutbox Empty { get; } = new([], []);
}
