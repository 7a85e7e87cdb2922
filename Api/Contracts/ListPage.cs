namespace Orchestration.Api.Contracts;

/// <summary>One page of a list (API.md, "Lists").</summary>
/// <param name="Items">The page's items.</param>
/// <param name="NextCursor">Pass as <c>?cursor=</c> for the next page; <c>null</c> at the end.</param>
internal sealed record ListPage<T>(IReadOnlyList<T> Items, string? NextCursor);
