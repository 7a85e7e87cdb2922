using System.Diagnostics;
using System.Net.Http.Json;
using Npgsql;
using Orchestration.Bench;
using Orchestration.Runtime;
using Orchestration.Runtime.Clustering;
using Orchestration.Testing;

namespace Orchestration.Product.Bench;

/// <summary>
/// failover.seconds: three silo processes and the Api (cluster mode) on a fresh database; <see cref="Agents"/> agents
/// registered and heartbeating through the Api (each in its own loop, 50 ms between beats: the figures' resolution);
/// one silo is killed with SIGKILL, and the loops go on until every agent has answered a heartbeat sent after the kill.
/// Reported: seconds from the kill to the first answered heartbeat of an agent whose grain was on the killed silo
/// (<c>.first</c>), and to the last agent's first answer (<c>.all</c>). There is no same-run baseline: Orleans' defaults
/// (about 15–20 s to declare a silo dead) are quoted as a reference value, not measured.
/// </summary>
internal static class FailoverBenchmark
{
    public const string Name = "failover.seconds";
    private const string Reference = "orleans.defaults (reference, not measured)";
    private const double ReferenceSeconds = 15;
    private const int Agents = 64;
    private const int Runs = 3;
    private static readonly TimeSpan s_pause = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan s_giveUp = TimeSpan.FromSeconds(90);

    public static async Task<IReadOnlyList<Result>> RunAsync(EphemeralPostgres postgres)
    {
        var results = new List<Result>();
        for (var run = 0; run < Runs; run++)
        {
            var (first, all) = await RunOnceAsync(await postgres.CreateDatabaseAsync(), victim: run % 3);
            results.Add(Result.Compare($"{Name}.first", first, "s", Reference, ReferenceSeconds));
            results.Add(Result.Compare($"{Name}.all", all, "s", Reference, ReferenceSeconds));
        }

        return results;
    }

    private static async Task<(double First, double All)> RunOnceAsync(string database, int victim)
    {
        var clients = new List<HttpClient>();
        await using var cluster = await ClusterProcesses.StartAsync(database);
        try
        {
            var siloIds = ClusterProcesses.SiloIds;
            var api = cluster.Api;

            var agentIds = Enumerable.Range(0, Agents).Select(i => $"agent-{i}").ToArray();
            foreach (var id in agentIds)
            {
                await HttpBoard.ReadAsync(await api.Client.PostAsJsonAsync("/api/v1/agents", new { id, name = id, capabilities = Array.Empty<string>() }));
                clients.Add(HttpBoard.Client(api.Address, await HttpBoard.IssueKeyAsync(api.Client, "agent", id)));
            }

            await Task.WhenAll(agentIds.Select(async (id, i) => await HttpBoard.ReadAsync(await clients[i].PostAsync($"/api/v1/agents/{id}/heartbeat", null))));
            var (owners, organisationOwner) = await OwnersAsync(database, agentIds);
            var killed = siloIds[victim];
            var onKilled = Enumerable.Range(0, Agents).Where(i => owners[i] == killed).ToHashSet();
            Console.Error.WriteLine(
                $"agents per silo: {string.Join(", ", siloIds.Select(silo => $"{silo} {owners.Count(owner => owner == silo)}"))}; organisation grain on {organisationOwner}; killing {killed}");

            var clock = Stopwatch.StartNew();
            var killedAt = long.MaxValue; // stopwatch ticks; read and written across the loops' threads
            var answeredAfterKill = new double[Agents];
            var failures = new List<string>();
            using var stop = new CancellationTokenSource();
            var loops = agentIds.Select((id, i) => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var sentAt = clock.Elapsed;
                    try
                    {
                        using var response = await clients[i].PostAsync($"/api/v1/agents/{id}/heartbeat", null);
                        var at = clock.Elapsed;
                        if (!response.IsSuccessStatusCode)
                        {
                            lock (failures)
                            {
                                failures.Add($"{(at.Ticks - Volatile.Read(ref killedAt)) / (double)TimeSpan.TicksPerSecond:F2}s {id}{(onKilled.Contains(i) ? "*" : "")} {(int)response.StatusCode}");
                            }
                        }
                        else if (sentAt.Ticks >= Volatile.Read(ref killedAt) && answeredAfterKill[i] == 0)
                        {
                            answeredAfterKill[i] = (at.Ticks - Volatile.Read(ref killedAt)) / (double)TimeSpan.TicksPerSecond;
                        }
                    }
                    catch (HttpRequestException exception)
                    {
                        lock (failures)
                        {
                            failures.Add($"{id} {exception.Message}");
                        }
                    }

                    if (clock.Elapsed - sentAt > TimeSpan.FromSeconds(2) && sentAt.Ticks >= Volatile.Read(ref killedAt) - TimeSpan.TicksPerSecond)
                    {
                        Console.Error.WriteLine(
                            $"slow heartbeat: {id}{(onKilled.Contains(i) ? " (on the killed silo)" : "")} sent {(sentAt.Ticks - Volatile.Read(ref killedAt)) / (double)TimeSpan.TicksPerSecond:F2} s after the kill, took {(clock.Elapsed - sentAt).TotalSeconds:F2} s");
                    }

                    await Task.Delay(s_pause, CancellationToken.None);
                }
            })).ToArray();

            await Task.Delay(TimeSpan.FromSeconds(2)); // every loop beating steadily before the kill
            lock (failures)
            {
                failures.Clear();
            }

            Volatile.Write(ref killedAt, clock.Elapsed.Ticks);
            await cluster.Silos[victim].KillAsync();
            var exited = clock.Elapsed - TimeSpan.FromTicks(killedAt);
            while (answeredAfterKill.Any(seconds => seconds == 0) && clock.Elapsed - TimeSpan.FromTicks(killedAt) < s_giveUp)
            {
                await Task.Delay(10);
            }

            await stop.CancelAsync();
            await Task.WhenAll(loops);
            if (answeredAfterKill.Any(seconds => seconds == 0))
            {
                throw new InvalidOperationException($"Not every agent answered within {s_giveUp.TotalSeconds} s of the kill.");
            }

            var (_, organisationOwnerAfter) = await OwnersAsync(database, agentIds);
            var slow = Enumerable.Range(0, Agents).Where(i => answeredAfterKill[i] > 10).ToArray();
            Console.Error.WriteLine(
                $"after: organisation grain on {organisationOwnerAfter}; agents first answering after > 10 s: {slow.Length}, on silos (before the kill) "
                + string.Join(", ", slow.GroupBy(i => owners[i]).Select(group => $"{group.Key} {group.Count()}")));
            var first = onKilled.Min(i => answeredAfterKill[i]);
            var all = answeredAfterKill.Max();
            var survivorsWorst = Enumerable.Range(0, Agents).Where(i => !onKilled.Contains(i)).Select(i => answeredAfterKill[i]).DefaultIfEmpty().Max();
            Console.Error.WriteLine(
                $"failover ({killed}, {onKilled.Count} agents on it; exited {exited.TotalMilliseconds:F0} ms after SIGKILL): first answer of one of its agents {first:F2} s, "
                + $"last of its agents {onKilled.Max(i => answeredAfterKill[i]):F2} s, all agents {all:F2} s; slowest first answer of a survivor's agent {survivorsWorst:F2} s");
            Console.Error.WriteLine($"failed heartbeats after the kill: {failures.Count} (* = agent on the killed silo){(failures.Count > 0 ? ": " : "")}{string.Join("; ", failures.Take(6))}{(failures.Count > 6 ? " … " + string.Join("; ", failures.TakeLast(6)) : "")}");
            return (first, all);
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>
    /// Which silo serves each agent's grain: the grain's partition (the runtime's own hash, reached by reflection: the
    /// runtime does not expose it to this project) and the partition's owner in the lease table.
    /// </summary>
    private static async Task<(string?[] Agents, string? Organisation)> OwnersAsync(string database, string[] agentIds)
    {
        static int PartitionOf(string type, string key) => ClusterPartitions.Of(new GrainId(type, key));
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        var keys = new Dictionary<string, string>();
        await using (var command = new NpgsqlCommand("SELECT grain_key FROM orch_grain_state WHERE grain_type = 'agent'", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                var key = reader.GetString(0);
                keys[key[(key.IndexOf('/', StringComparison.Ordinal) + 1)..]] = key;
            }
        }

        var owners = new Dictionary<int, string?>();
        await using (var command = new NpgsqlCommand("SELECT partition, owner_silo FROM orch_partitions", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                owners[reader.GetInt32(0)] = reader.IsDBNull(1) ? null : reader.GetString(1);
            }
        }

        // Every heartbeat also asks the organisation's grain for its settings: where it lives matters as much.
        var organisation = keys[agentIds[0]][..keys[agentIds[0]].IndexOf('/', StringComparison.Ordinal)];
        return ([.. agentIds.Select(id => owners[PartitionOf("agent", keys[id])])], owners[PartitionOf("organisation", organisation)]);
    }
}
