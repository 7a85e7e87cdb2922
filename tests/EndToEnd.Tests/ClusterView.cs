using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Orchestration.Testing;

namespace Orchestration.EndToEnd.Tests;

/// <summary>The cluster as <c>GET /api/v1/cluster</c> shows it (shared with the benchmarks, as <see cref="HostProcess"/> is).</summary>
internal static class ClusterView
{
    public const int Partitions = 256;

    public static async Task<JsonNode> ReadAsync(HostProcess api) =>
        (await api.Client.GetFromJsonAsync<JsonNode>("/api/v1/cluster"))!;

    /// <summary>Until exactly <paramref name="siloIds"/> are active and hold every partition between them, evenly.</summary>
    public static Task WhenServedByAsync(HostProcess api, params string[] siloIds) =>
        Eventually.TrueAsync(
            async () =>
            {
                var active = (await ReadAsync(api))["silos"]!.AsArray()
                    .Where(silo => (string?)silo!["status"] == "active" && (int)silo["ownedPartitions"]! > 0)
                    .ToList();
                return active.Select(silo => (string)silo!["siloId"]!).Order().SequenceEqual(siloIds.Order())
                    && active.Sum(silo => (int)silo!["ownedPartitions"]!) == Partitions
                    && active.All(silo => (int)silo!["ownedPartitions"]! >= Partitions / siloIds.Length);
            },
            $"{string.Join(", ", siloIds)} serve every partition");
}
