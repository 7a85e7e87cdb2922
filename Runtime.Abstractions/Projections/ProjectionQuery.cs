namespace Orchestration.Runtime.Projections;

/// <summary>One page of a collection's rows, ordered by id, filtered by the fields that are set.</summary>
/// <param name="Collection">The collection to read.</param>
/// <param name="Tenant">The tenant whose rows are read; <c>null</c> reads every tenant (platform operations only).</param>
public sealed record ProjectionQuery(string Collection, string? Tenant)
{
    /// <summary>Only rows with this status. Default: any.</summary>
    public string? Status { get; init; }

    /// <summary>Only rows with this owner. Default: any.</summary>
    public string? Owner { get; init; }

    /// <summary>Only rows in this group. Default: any.</summary>
    public string? Group { get; init; }

    /// <summary>The <see cref="ProjectionPage.NextCursor"/> of the previous page; <c>null</c> for the first page.</summary>
    public string? Cursor { get; init; }

    /// <summary>The page size, 1 to 1,000. Default: 100.</summary>
    public int Limit { get; init; } = 100;

    /// <summary>
    /// Whether rows carry their <see cref="ProjectionRow.Document"/>. Default: yes. Without, each row's document is an
    /// empty string and storage reads only the key and filter columns: for readers that check which rows exist (an
    /// in-memory index catching up) and fetch the few documents they lack one by one.
    /// </summary>
    public bool IncludeDocuments { get; init; } = true;
}
