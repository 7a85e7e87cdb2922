namespace Orchestration.Runtime.Projections;

/// <summary>
/// Reads projection rows (see <see cref="ProjectionRow"/>) from storage, outside grains. On PostgreSQL a read for one
/// tenant also runs under row-level security bound to that tenant, so a missing filter cannot leak another's rows.
/// </summary>
public interface IProjectionStore
{
    /// <summary>Reads one page of rows.</summary>
    Task<ProjectionPage> QueryAsync(ProjectionQuery query, CancellationToken cancellationToken = default);

    /// <summary>Reads one row, or <c>null</c> when there is none.</summary>
    Task<ProjectionRow?> GetAsync(string collection, string tenant, string id, CancellationToken cancellationToken = default);
}
