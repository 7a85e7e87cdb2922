using Orchestration.Runtime.Persistence;

namespace Orchestration.Runtime.Projections;

/// <summary>Reads projections from the silo's storage, after checking the request.</summary>
internal sealed class ProjectionStore(IGrainStorage storage) : IProjectionStore
{
    public const int MaxLimit = 1000;

    public Task<ProjectionPage> QueryAsync(ProjectionQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(query.Collection, nameof(query.Collection));
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1, nameof(query.Limit));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(query.Limit, MaxLimit, nameof(query.Limit));
        _ = ProjectionCursor.Parse(query); // a malformed cursor fails here, before storage is asked
        return storage.QueryProjectionsAsync(query, cancellationToken);
    }

    public Task<ProjectionRow?> GetAsync(string collection, string tenant, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(collection);
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(id);
        return storage.ReadProjectionAsync(collection, tenant, id, cancellationToken);
    }
}
