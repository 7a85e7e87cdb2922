namespace Orchestration.Runtime.Projections;

/// <summary>A page of projection rows.</summary>
/// <param name="Items">The rows, ordered by id.</param>
/// <param name="NextCursor">Pass it as <see cref="ProjectionQuery.Cursor"/> for the next page; <c>null</c> at the end.</param>
public sealed record ProjectionPage(IReadOnlyList<ProjectionRow> Items, string? NextCursor);
