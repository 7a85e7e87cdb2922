namespace Orchestration.Runtime.Projections;

/// <summary>
/// A query-friendly row that a grain keeps next to its state, so lists are served without activating grains. A grain
/// sets it with <see cref="IGrainContext.Project"/>; it commits in the same transaction as the call's state write.
/// </summary>
/// <param name="Collection">What the row describes, for example <c>tasks</c>.</param>
/// <param name="Tenant">The organisation the row belongs to; readers see only their tenant's rows.</param>
/// <param name="Id">Unique within the collection and tenant; lists are ordered by it (ordinal).</param>
/// <param name="Document">The row's JSON, served as is.</param>
public sealed record ProjectionRow(string Collection, string Tenant, string Id, string Document)
{
    /// <summary>A filterable status, for example <c>ready</c>. Default: none.</summary>
    public string? Status { get; init; }

    /// <summary>A filterable owner, for example the agent holding a task. Default: none.</summary>
    public string? Owner { get; init; }

    /// <summary>A filterable group, for example the workflow a task belongs to. Default: none.</summary>
    public string? Group { get; init; }
}
