using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Orchestration.Bench;
using Orchestration.Testing;

namespace Orchestration.Product.Bench;

/// <summary>
/// events.sse.latency: how long a committed event takes to reach Server-Sent Events clients. The Api as shipped
/// (<see cref="TaskLifecycleBenchmark.StartApiAsync"/>) with <see cref="Clients"/> streams of <c>types=task.*</c> open (read
/// by <see cref="SseReaderProcess"/>, a process of their own), while
/// a paced producer creates tasks through the HTTP API at <see cref="EventsPerSecond"/> (each create commits
/// <c>task.created</c> and <c>task.ready</c>). Per (event, client) pair: arrival of the frame − the commit of the event's
/// transaction, as PostgreSQL recorded it (<c>pg_xact_commit_timestamp</c>, taken as the commit record is written, so the
/// flush is included). Printed beside it: arrival − the envelope's <c>occurredAt</c> (the grain's clock when raised, so the
/// wait for a commit slot is included too). Baseline, same run: the create request's round trip (send → response, its
/// durable commit included). Every clock here is the machine's one wall clock.
/// </summary>
internal static class EventsSseLatencyBenchmark
{
    public const string Name = "events.sse.latency";
    public const int Clients = 100;
    public const int EventsPerSecond = 1_000;
    private const int EventsPerCreate = 2;

    public static async Task<IReadOnlyList<Result>> RunAsync(Settings settings, EphemeralPostgres postgres)
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var api = await TaskLifecycleBenchmark.StartApiAsync(database);
        await using var board = await HttpBoard.CreateAsync(api.Address, api.Client);
        await using var readers = await SseReaderProcess.StartAsync(
            api.Address, await HttpBoard.IssueKeyAsync(api.Client, "operator", agentId: null), "/api/v1/events/stream?types=task.*", Clients);
        using var stop = new CancellationTokenSource();

        var producer = new PacedProducer(board, EventsPerSecond / EventsPerCreate);
        var started = Stopwatch.StartNew();
        var producing = producer.RunAsync(started, stop.Token);
        await Measure.WarmUpAsync(started, settings, "ms, p50 occurredAt→client", _ => readers.WindowMedian(),
            (previous, current) => Math.Abs(current - previous) <= Math.Max(1, 0.10 * Math.Max(previous, current)));
        var warmup = Math.Round(started.Elapsed.TotalSeconds, 1);
        var from = DateTimeOffset.UtcNow.UtcTicks;
        var cpuBefore = ApiCpu.Read();
        var producerPausedBefore = GC.GetTotalPauseDuration();
        await readers.MarkAsync();
        await Task.Delay(settings.Duration);
        var cpu = ApiCpu.Read() - cpuBefore;
        var producerPaused = GC.GetTotalPauseDuration() - producerPausedBefore;
        var to = DateTimeOffset.UtcNow.UtcTicks;
        await stop.CancelAsync();
        var (creates, failed) = await producing;
        if (failed.Count > 0)
        {
            Console.Error.WriteLine($"{Name}: {failed.Count} creates failed (overloaded), first: {failed[0]}");
        }

        // Every task.* event in the log, as the list endpoint pages it: what each client must have received, once, in order.
        var log = await ReadLogAsync(api.Client);
        var (received, reconnected, readersGc) = await readers.StopAsync(log.Count == 0 ? 0 : log[^1].Sequence);
        var committed = await CommitTicksAsync(database, log);
        var measured = Percentiles.Of(received.SelectMany(arrivals => arrivals)
            .Select(arrival => (arrival.ArrivedTicks, Committed: committed.GetValueOrDefault(arrival.Sequence))) // strays: CheckDelivery
            .Where(pair => pair.Committed >= from && pair.Committed < to)
            .Select(pair => TimeSpan.FromTicks(pair.ArrivedTicks - pair.Committed).TotalMilliseconds));
        if (settings.Trace)
        {
            PrintLateArrivals(received, committed, from, to);
        }

        var afterRaised = Percentiles.Of(received.SelectMany(arrivals => arrivals)
            .Where(arrival => arrival.OccurredTicks >= from && arrival.OccurredTicks < to).Select(Arrival.Milliseconds));
        var baseline = Percentiles.Of(creates.Where(create => create.SentTicks >= from && create.SentTicks < to)
            .Select(create => TimeSpan.FromTicks(create.RespondedTicks - create.SentTicks).TotalMilliseconds));
        var rate = log.Count(item => item.OccurredTicks >= from && item.OccurredTicks < to) / TimeSpan.FromTicks(to - from).TotalSeconds;
        Console.Error.WriteLine($"{Name}: {rate:F0} events/s committed while measured, {Clients} clients; commit→client {measured}; "
            + $"occurredAt→client {afterRaised}; create round trip {baseline} (ms)");
        PrintAfterResponse(received, log, creates, from, to);
        var pairs = received.Sum(arrivals => arrivals.Count(arrival => arrival.OccurredTicks >= from && arrival.OccurredTicks < to));
        Console.Error.WriteLine($"{Name}: the Api process used {cpu.TotalSeconds:F2} s of CPU in the {TimeSpan.FromTicks(to - from).TotalSeconds:F1} s measured: "
            + $"{cpu.TotalMicroseconds / Math.Max(1, pairs):F1} µs per (event, client) pair delivered, everything included; "
            + $"GC pauses: the producer {producerPaused.TotalMilliseconds:F0} ms while measured, the readers' process {readersGc} while measured");
        CheckDelivery(received, reconnected, log, creates.Count);

        var fsync = FsyncRate.Measure(Path.GetTempPath());
        return
        [
            .. new (string Name, Func<Percentiles, double> Value)[] { ("p50", p => p.P50), ("p95", p => p.P95), ("p99", p => p.P99), ("max", p => p.Max) }
                .Select(stat => Result.Compare($"{Name}.{stat.Name}", stat.Value(measured), "ms", $"http.create.roundtrip.{stat.Name}", stat.Value(baseline))
                    with { WarmupSeconds = warmup, FsyncPerSecond = fsync }),
        ];
    }

    /// <summary>Every client got every task.* event of the log exactly once, in sequence order; prints the check and throws when it fails.</summary>
    private static void CheckDelivery(List<Arrival>[] received, bool[] reconnected, IReadOnlyList<LogEvent> log, int creates)
    {
        var expected = log.Select(item => item.Sequence).ToArray();
        var failures = received.Select((arrivals, i) => (i, arrivals))
            .Where(client => reconnected[client.i] || !client.arrivals.Select(arrival => arrival.Sequence).SequenceEqual(expected))
            .Select(client => $"client {client.i}: {Difference(client.arrivals, expected)}{(reconnected[client.i] ? ", told to reconnect" : "")}")
            .ToList();
        Console.Error.WriteLine(
            $"{Name} delivery: {creates} creates → {expected.Length} task.* events in the log ({EventsPerCreate * creates} expected); " +
            $"{Clients - failures.Count}/{Clients} clients received every one exactly once, in order" +
            (failures.Count == 0 ? "" : $"; not: {string.Join("; ", failures.Take(5))}"));
        if (failures.Count > 0)
        {
            throw new InvalidOperationException($"{Name}: delivery check failed.");
        }
    }

    private static string Difference(List<Arrival> arrivals, long[] expected)
    {
        var got = arrivals.Select(arrival => arrival.Sequence).ToArray();
        var missing = expected.Except(got).ToArray();
        var unexpected = got.Except(expected).ToArray();
        var duplicates = got.Length - got.Distinct().Count();
        var disordered = got.Zip(got.Skip(1)).Count(pair => pair.Second <= pair.First);
        return $"{got.Length} events, {missing.Length} missing ({string.Join(",", missing.Take(8))}), {unexpected.Length} not in the log ({string.Join(",", unexpected.Take(8))}), "
            + $"{duplicates} repeated, {disordered} out of order";
    }

    /// <summary>
    /// The fan-out alone, optimistic: arrival − the create's response (the commit was before the response, so a pair may
    /// come out negative). Matched by subject (<c>tasks/{id}</c>); printed to stderr.
    /// </summary>
    private static void PrintAfterResponse(List<Arrival>[] received, IReadOnlyList<LogEvent> log, IReadOnlyList<Create> creates, long from, long to)
    {
        var responded = creates.ToDictionary(create => create.TaskId, create => create.RespondedTicks);
        var bySequence = log.Where(item => responded.ContainsKey(TaskId(item))).ToDictionary(item => item.Sequence, item => responded[TaskId(item)]);
        var afterResponse = Percentiles.Of(received.SelectMany(arrivals => arrivals)
            .Where(arrival => arrival.OccurredTicks >= from && arrival.OccurredTicks < to && bySequence.ContainsKey(arrival.Sequence))
            .Select(arrival => TimeSpan.FromTicks(arrival.ArrivedTicks - bySequence[arrival.Sequence]).TotalMilliseconds));
        Console.Error.WriteLine($"{Name}: create response→client {afterResponse} (ms)");
    }

    private static string TaskId(LogEvent item) => item.Subject.StartsWith("tasks/", StringComparison.Ordinal) ? item.Subject["tasks/".Length..] : item.Subject;

    /// <summary>
    /// --trace: the pairs that arrived over 60 ms after their commit, per 100 ms of arrival, with the commits they came
    /// from; a stall shows as one window of arrivals whose commits span the stall.
    /// </summary>
    private static void PrintLateArrivals(List<Arrival>[] received, Dictionary<long, long> committed, long from, long to)
    {
        const long window = 100 * TimeSpan.TicksPerMillisecond;
        var late = received.SelectMany(arrivals => arrivals)
            .Select(arrival => (arrival.Sequence, arrival.ArrivedTicks, Committed: committed.GetValueOrDefault(arrival.Sequence)))
            .Where(pair => pair.Committed >= from && pair.Committed < to && pair.ArrivedTicks - pair.Committed > 60 * TimeSpan.TicksPerMillisecond);
        foreach (var group in late.GroupBy(pair => pair.ArrivedTicks / window).OrderBy(group => group.Key))
        {
            Console.Error.WriteLine(
                $"{Name} late: arrived {new DateTime(group.Key * window):HH:mm:ss.f}, {group.Count()} pairs of {group.Select(pair => pair.Sequence).Distinct().Count()} events "
                + $"committed {new DateTime(group.Min(pair => pair.Committed)):HH:mm:ss.fff}–{new DateTime(group.Max(pair => pair.Committed)):HH:mm:ss.fff}, "
                + $"at most {TimeSpan.FromTicks(group.Max(pair => pair.ArrivedTicks - pair.Committed)).TotalMilliseconds:F0} ms after");
        }
    }

    /// <summary>When each logged event's transaction committed (UTC ticks), by sequence, read from the database itself.</summary>
    private static async Task<Dictionary<long, long>> CommitTicksAsync(string database, IReadOnlyList<LogEvent> log)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using (var setting = new NpgsqlCommand("SELECT current_setting('track_commit_timestamp')::bool", connection))
        {
            if (await setting.ExecuteScalarAsync() is not true)
            {
                throw new InvalidOperationException($"{Name} measures from each event's commit: the server needs track_commit_timestamp = on.");
            }
        }

        await using var command = new NpgsqlCommand("SELECT sequence, pg_xact_commit_timestamp(xmin) FROM orch_events WHERE sequence = ANY($1)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = log.Select(item => item.Sequence).ToArray() });
        var committed = new Dictionary<long, long>(log.Count);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            committed.Add(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1).UtcTicks);
        }

        return committed;
    }

    private static async Task<IReadOnlyList<LogEvent>> ReadLogAsync(HttpClient http)
    {
        var events = new List<LogEvent>();
        string? after = null;
        do
        {
            var page = await HttpBoard.ReadAsync(await http.GetAsync($"/api/v1/events?limit=500{(after is null ? "" : $"&after={after}")}"));
            foreach (var item in page.GetProperty("items").EnumerateArray())
            {
                if (item.GetProperty("type").GetString()!.StartsWith("task.", StringComparison.Ordinal))
                {
                    events.Add(new LogEvent(item.GetProperty("sequence").GetInt64(), item.GetProperty("subject").GetString()!, item.GetProperty("occurredAt").GetDateTimeOffset().UtcTicks));
                }
            }

            after = page.GetProperty("next") is { ValueKind: System.Text.Json.JsonValueKind.Number } next ? next.GetInt64().ToString(CultureInfo.InvariantCulture) : null;
        }
        while (after is not null);
        return events;
    }

    /// <summary>CPU time of the Api child process, zero when it cannot be found.</summary>
    private static class ApiCpu
    {
        public static TimeSpan Read() =>
            ProcFs.Children("Orchestration.Api.dll") is [var api, ..] ? ProcFs.CpuOf($"/proc/{api}/stat") : TimeSpan.Zero;
    }

    private sealed record LogEvent(long Sequence, string Subject, long OccurredTicks);

    /// <summary>One create request: the task, when it was sent and when its response arrived (UTC ticks).</summary>
    private sealed record Create(string TaskId, long SentTicks, long RespondedTicks);

    /// <summary>
    /// Creates tasks at a steady rate (open loop: a slow create does not hold back the next), spread over the board's
    /// producer clients so no key's rate limit applies.
    /// </summary>
    private sealed class PacedProducer(HttpBoard board, int perSecond)
    {
        public async Task<(IReadOnlyList<Create> Created, IReadOnlyList<string> Failed)> RunAsync(Stopwatch started, CancellationToken stop)
        {
            var pending = new List<Task<Create>>();
            var sent = 0;
            while (!stop.IsCancellationRequested)
            {
                var due = (long)(started.Elapsed.TotalSeconds * perSecond);
                for (; sent < due; sent++)
                {
                    pending.Add(CreateAsync(sent));
                }

                await Task.Delay(1, CancellationToken.None);
            }

            // A create the Api turns away (503 when overloaded) is counted, not fatal: the clients are checked against the log.
            await Task.WhenAll(pending).ContinueWith(static _ => { }, TaskScheduler.Default);
            return (
                [.. pending.Where(create => create.IsCompletedSuccessfully).Select(create => create.Result)],
                [.. pending.Where(create => create.IsFaulted).Select(create => create.Exception!.InnerException!.Message)]);
        }

        private async Task<Create> CreateAsync(int number)
        {
            var taskId = $"sse-{number}";
            var sent = DateTimeOffset.UtcNow.UtcTicks;
            await board.CreateAsync(number % TaskLifecycle.Agents, taskId);
            return new Create(taskId, sent, DateTimeOffset.UtcNow.UtcTicks);
        }
    }
}
