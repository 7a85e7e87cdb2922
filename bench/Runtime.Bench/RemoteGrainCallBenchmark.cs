using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Bench;
using Orchestration.Runtime.Activations;
using Orchestration.Runtime.Calls.Remote;
using Orchestration.Runtime.Clustering;
using Orchestration.Runtime.Transport;
using Orchestration.Testing;

namespace Orchestration.Runtime.Bench;

/// <summary>
/// grain.call.remote: calls/s from a client runtime (this process, <c>servesPartitions: false</c>) to <see cref="PingGrain"/>s
/// served by a silo runtime in a child process (this program with <see cref="ServeSiloArgument"/>), both on a throwaway
/// PostgreSQL (membership and leases only: the grain has no state). Baseline, same run, same child process: the bare
/// transport round trip to a second <see cref="SiloTransportServer"/> in the child whose handler answers at once with a
/// response as long as the grain's response envelope, sent request bodies as long as the call's envelope, from the same
/// number of concurrent callers. The two alternate, so load on the machine hits both.
/// </summary>
internal static class RemoteGrainCallBenchmark
{
    public const string Name = "grain.call.remote";

    /// <summary>The child process's mode: <c>--serve-silo CONNECTION_STRING RESPONSE_BYTES</c>.</summary>
    public const string ServeSiloArgument = "--serve-silo";

    private const int Grains = 1000;
    private const int Callers = 64;
    private const string ReadyLine = "ready ";

    // The parent writes this line to the child's standard input; the child answers with it and its bytes allocated so far.
    private const string AllocatedQuery = "allocated ";
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    public static async Task<IReadOnlyList<Result>> RunAsync(Settings settings)
    {
        // Not durable: nothing in this benchmark writes grain state; the leases' renewals should not wait on fsync.
        await using var postgres = await EphemeralPostgres.StartAsync(durable: false);
        var database = await postgres.CreateDatabaseAsync();
        var (request, response) = EnvelopeSizes();
        using var silo = StartSiloProcess(database, response);
        try
        {
            var transportAddress = await ReadyAsync(silo);
            await using var provider = BuildRuntime(database, "bench-client", servesPartitions: false);
            var client = provider.GetRequiredService<SiloRuntime>();
            await client.StartAsync(CancellationToken.None);
            await WhenMappedAsync(client);

            var grains = Enumerable.Range(0, Grains).Select(i => client.GrainFactory.GetGrain<IPingGrain>($"ping-{i}")).ToArray();
            await Task.WhenAll(grains.Select(grain => grain.PingAsync(0)));

            await using var transport = new SiloTransportClient(NullLogger.Instance);
            var body = new byte[request];
            Random.Shared.NextBytes(body);
            var bare = await TransportRoundTripBenchmark.ClosedLoopAsync(Callers, settings, async () =>
            {
                var answer = await transport.SendAsync(transportAddress, body, s_timeout);
                if (answer.Length != response)
                {
                    throw new InvalidOperationException($"The empty handler answered {answer.Length} bytes, not {response}.");
                }
            }, silo, () => AllocatedBytes(silo));
            Report("tcp", request, bare);

            var next = 0;
            var calls = await TransportRoundTripBenchmark.ClosedLoopAsync(Callers, settings, async () =>
            {
                var value = Interlocked.Increment(ref next);
                if (await grains[(uint)value % Grains].PingAsync(value) != value + 1)
                {
                    throw new InvalidOperationException("PingAsync answered the wrong value.");
                }
            }, silo, () => AllocatedBytes(silo));
            Report("grain", request, calls);

            var cell = $"tcp.{request}B.c{Callers}.crossprocess";
            return
            [
                Result.Compare(Name, calls.PerSecond, "calls/s", $"transport.roundtrip.{cell}", bare.PerSecond),
                Result.Compare($"{Name}.p50", calls.P50, "µs", $"transport.roundtrip.{cell}.p50", bare.P50),
                Result.Compare($"{Name}.p99", calls.P99, "µs", $"transport.roundtrip.{cell}.p99", bare.P99),
                Result.Compare($"{Name}.cpu.client", calls.CpuMicroseconds, "µs CPU/call", $"transport.roundtrip.{cell}.cpu.client", bare.CpuMicroseconds),
                Result.Compare($"{Name}.cpu.silo", calls.PeerCpuMicroseconds!.Value, "µs CPU/call", $"transport.roundtrip.{cell}.cpu.server", bare.PeerCpuMicroseconds!.Value),
                Result.Compare($"{Name}.alloc.client", calls.AllocatedKiB, "KiB/call", $"transport.roundtrip.{cell}.alloc.client", bare.AllocatedKiB),
                Result.Compare($"{Name}.alloc.silo", calls.PeerAllocatedKiB!.Value, "KiB/call", $"transport.roundtrip.{cell}.alloc.server", bare.PeerAllocatedKiB!.Value),
            ];
        }
        finally
        {
            silo.StandardInput.Close(); // the child's signal to stop
            if (!silo.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                silo.Kill();
            }
        }
    }

    /// <summary>
    /// The child: a silo serving every partition for the bench's grains, and the baseline's transport server with an
    /// empty handler (a fixed answer of <c>RESPONSE_BYTES</c>). Prints <see cref="ReadyLine"/> and the baseline server's
    /// address once the silo holds every partition; answers each <see cref="AllocatedQuery"/> line with its bytes allocated
    /// so far; stops when its standard input closes (the parent is done or gone).
    /// </summary>
    public static async Task ServeSiloAsync(string[] args)
    {
        var (connectionString, responseLength) = (args[0], int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
        await using var provider = BuildRuntime(connectionString, "bench-silo", servesPartitions: true);
        var silo = provider.GetRequiredService<SiloRuntime>();
        await silo.StartAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => Task.FromResult(silo.Cluster!.Keeper!.Held.Count == ClusterPartitions.Count), "the silo holds every partition");

        var answer = new byte[responseLength];
        await using var empty = await SiloTransportServer.StartAsync(
            System.Net.IPAddress.Loopback, 0, (_, _) => ValueTask.FromResult<ReadOnlyMemory<byte>>(answer), NullLogger.Instance);
        Console.WriteLine($"{ReadyLine}{empty.Address}");
        while (await Console.In.ReadLineAsync() is { } line)
        {
            if (line == AllocatedQuery)
            {
                Console.WriteLine($"{AllocatedQuery}{GC.GetTotalAllocatedBytes(precise: true)}");
            }
        }

        await silo.StopAsync(CancellationToken.None);
    }

    private static ServiceProvider BuildRuntime(string connectionString, string siloId, bool servesPartitions)
    {
        var services = new ServiceCollection();
        services.AddSilo(builder => builder
            .AddGrains(typeof(PingGrain).Assembly)
            .UseCluster(connectionString, servesPartitions)
            .Configure(options => options.SiloId = siloId));
        return services.BuildServiceProvider();
    }

    /// <summary>The sizes of a PingAsync call's request and response envelopes, encoded as the runtime encodes them.</summary>
    private static (int Request, int Response) EnvelopeSizes()
    {
        var registry = new GrainTypeRegistry([typeof(PingGrain).Assembly]);
        var typeName = GrainClassInfo.ToTypeName(typeof(PingGrain));
        var method = registry.GetInterface(typeof(IPingGrain), typeName).Methods.Single();
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        var request = RemoteCallCodec.WriteRequest(new GrainId(typeName, "ping-123"), method, [12345],
            (int)s_timeout.TotalMilliseconds, traceParent: null, json);
        var response = RemoteCallCodec.WriteCompleted(12346, method.ResultType, json);
        return (request.Length, response.Length);
    }

    private static Process StartSiloProcess(string connectionString, int responseLength) =>
        ChildProcess.StartSelf(ServeSiloArgument, connectionString, responseLength.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static async Task<string> ReadyAsync(Process silo)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        while (await silo.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith(ReadyLine, StringComparison.Ordinal))
            {
                return line[ReadyLine.Length..];
            }
        }

        throw new InvalidOperationException($"The silo process exited with {silo.ExitCode} before it was ready.");
    }

    /// <summary>Asks the child for its bytes allocated so far (between measured windows: it waits for the answer).</summary>
    private static long AllocatedBytes(Process silo)
    {
        silo.StandardInput.WriteLine(AllocatedQuery);
        silo.StandardInput.Flush();
        while (silo.StandardOutput.ReadLine() is { } line)
        {
            if (line.StartsWith(AllocatedQuery, StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(AllocatedQuery.Length), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException("The silo process exited before it told its bytes allocated.");
    }

    /// <summary>Until the client's map has an owner for every partition (its polling read the silo's leases).</summary>
    private static Task WhenMappedAsync(SiloRuntime client) =>
        Eventually.TrueAsync(
            () => Task.FromResult(Enumerable.Range(0, ClusterPartitions.Count).All(partition => client.Cluster!.Map.OwnerOf(partition) is not null)),
            "the client maps every partition to the silo");

    private static void Report(string what, int request, TransportRoundTripBenchmark.Sample sample) =>
        Console.Error.WriteLine(
            $"{what,-5} {request,5} B x{Callers}: {sample.PerSecond,10:F0}/s  p50 {sample.P50,7:F1} µs  p99 {sample.P99,7:F1} µs  CPU {sample.CpuMicroseconds,5:F1} µs here + {sample.PeerCpuMicroseconds,5:F1} µs in the silo"
            + $"  alloc {sample.AllocatedKiB,5:F2} KiB here + {sample.PeerAllocatedKiB,5:F2} KiB in the silo");
}
