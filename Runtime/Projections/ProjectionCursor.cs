namespace Orchestration.Runtime.Projections;

/// <summary>
/// Where a page ended. For one tenant's rows it is the last id itself; a read of every tenant (ordered by id, then
/// tenant) needs both, as <c>{id length}:{id}{tenant}</c>.
/// </summary>
internal readonly record struct ProjectionCursor(string Id, string? Tenant)
{
    public static ProjectionCursor After(ProjectionRow last, bool allTenants) => new(last.Id, allTenants ? last.Tenant : null);

    public static ProjectionCursor? Parse(ProjectionQuery query)
    {
        if (query.Cursor is not { } cursor)
        {
            return null;
        }

        if (cursor.Contains('\0', StringComparison.Ordinal))
        {
            // No page ends at one: ids and tenants are stored as text, which cannot hold NUL (PostgreSQL refuses it).
            throw new ArgumentException("The cursor holds a NUL character.", nameof(query));
        }

        if (query.Tenant is not null)
        {
            return new ProjectionCursor(cursor, null);
        }

        var colon = cursor.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0 && int.TryParse(cursor.AsSpan(0, colon), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length)
            && length <= cursor.Length - colon - 1)
        {
            return new ProjectionCursor(cursor.Substring(colon + 1, length), cursor[(colon + 1 + length)..]);
        }

        throw new ArgumentException("The cursor was not made by a query of every tenant.", nameof(query));
    }

    /// <summary>A page from rows read in order, up to one more than the limit (which shows that another page follows).</summary>
    public static ProjectionPage Page(List<ProjectionRow> rows, ProjectionQuery query)
    {
        if (rows.Count <= query.Limit)
        {
            return new ProjectionPage(rows, null);
        }

        rows.RemoveRange(query.Limit, rows.Count - query.Limit);
        return new ProjectionPage(rows, After(rows[^1], query.Tenant is null).ToString());
    }

    public override string ToString() =>
        Tenant is null ? Id : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Id.Length}:{Id}{Tenant}");

    /// <summary>Whether <paramref name="row"/> comes after this cursor in (id, tenant) ordinal order.</summary>
    public bool IsBefore(ProjectionRow row)
    {
        var byId = string.CompareOrdinal(row.Id, Id);
        return byId > 0 || (byId == 0 && Tenant is not null && string.CompareOrdinal(row.Tenant, Tenant) > 0);
    }
}
