using Orchestration.Runtime.Projections;

namespace Orchestration.Runtime.Persistence;

/// <summary>A projection row to store (<see cref="Upsert"/> set) or remove (<see cref="Upsert"/> null).</summary>
internal sealed record ProjectionChange(string Collection, string Tenant, string Id, ProjectionRow? Upsert)
{
    public static ProjectionChange Set(ProjectionRow row) => new(row.Collection, row.Tenant, row.Id, row);

    public static ProjectionChange Remove(string collection, string tenant, string id) => new(collection, tenant, id, null);
}
