using Microsoft.AspNetCore.Http.HttpResults;
using Orchestration.Runtime;
using Orchestration.Runtime.Management;

namespace Orchestration.Api.Apis;

/// <summary><c>/api/v1/cluster</c>: the silos, their activations and the storage provider.</summary>
internal static class ClusterApi
{
    public static IEndpointRouteBuilder MapClusterApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapResourceGroup("/api/v1/cluster", "Cluster");
        group.MapGet("", GetClusterAsync).WithName("GetCluster");
        return routes;
    }

    private static async Task<Ok<ClusterStatus>> GetClusterAsync(IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<IManagementGrain>(IManagementGrain.DefaultKey).GetClusterStatusAsync());
}
