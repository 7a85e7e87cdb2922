using Orchestration.Runtime.Projections;

namespace Orchestration.Silo.Grains;

/// <summary>Reading a projection whole, page after page: how grains rebuild what they keep in memory from committed rows.</summary>
internal static class ProjectionPages
{
    /// <summary>Every row <paramref name="query"/> matches, in its order, read in pages of the largest size.</summary>
    public static async Task<List<ProjectionRow>> ReadAllAsync(this IProjectionStore projections, ProjectionQuery query, CancellationToken cancellationToken)
    {
        var rows = new List<ProjectionRow>();
        string? cursor = null;
        do
        {
            var page = await projections.QueryAsync(query with { Cursor = cursor, Limit = 1_000 }, cancellationToken);
            rows.AddRange(page.Items);
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        return rows;
    }
}
