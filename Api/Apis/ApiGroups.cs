using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Orchestration.Api.Auth;
using Orchestration.Api.Contracts;
using Orchestration.Runtime.Projections;

namespace Orchestration.Api.Apis;

/// <summary>What every <c>/api/v1</c> resource group shares: a key, the read policy and the problem answers.</summary>
internal static class ApiGroups
{
    /// <summary>The most items one list page holds.</summary>
    public const int MaxLimit = 500;

    /// <summary>A resource group: any valid key may read; sub-groups add stricter policies.</summary>
    public static RouteGroupBuilder MapResourceGroup(this IEndpointRouteBuilder routes, string prefix, string tag)
    {
        var group = routes.MapGroup(prefix).WithTags(tag).RequireAuthorization(ApiPolicies.Read);
        foreach (var status in new[] { 400, 401, 403, 404, 409, 413, 429, 503 })
        {
            group.ProducesProblem(status);
        }

        // Every POST takes an Idempotency-Key, and a key reused with another body is 422 idempotency_key_reused.
        ((IEndpointConventionBuilder)group).Finally(endpoint =>
        {
            if (endpoint.Metadata.OfType<HttpMethodMetadata>().Any(methods => methods.HttpMethods.Contains(HttpMethods.Post)))
            {
                endpoint.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status422UnprocessableEntity, typeof(ProblemDetails), ["application/problem+json"]));
            }
        });

        return group;
    }

    /// <summary>Validates <c>?limit=</c> (1–500, default 100) and <c>?cursor=</c>.</summary>
    public static int Limit(RequestValidator validator, string? limit, string? cursor)
    {
        if (cursor is { Length: > 1024 })
        {
            validator.Add("cursor", NotACursor);
        }

        if (limit is null)
        {
            return 100;
        }

        if (!int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
            || value is < 1 or > MaxLimit)
        {
            validator.Add("limit", $"must be a whole number from 1 to {MaxLimit}.");
            return 100;
        }

        return value;
    }

    /// <summary>
    /// Reads one page of projection rows, each deserialized as <typeparamref name="T"/>; a cursor the store cannot read is
    /// the same 400 <c>validation_failed</c> on <c>cursor</c> as one <see cref="Limit"/> refuses.
    /// </summary>
    public static async Task<Results<Ok<ListPage<T>>, ProblemHttpResult>> QueryAsync<T>(
        IProjectionStore store, ProjectionQuery query, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        ProjectionPage page;
        try
        {
            page = await store.QueryAsync(query, cancellationToken);
        }
        catch (Exception exception) when (exception is FormatException or ArgumentException && query.Cursor is not null)
        {
            var validator = new RequestValidator();
            validator.Add("cursor", NotACursor);
            return validator.Problem();
        }

        return TypedResults.Ok(new ListPage<T>([.. page.Items.Select(row => System.Text.Json.JsonSerializer.Deserialize(row.Document, type)!)], page.NextCursor));
    }

    private const string NotACursor = "is not a cursor this server gave out.";
}
