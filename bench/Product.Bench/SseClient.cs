using System.Globalization;

namespace Orchestration.Product.Bench;

/// <summary>One event as a client received it: its sequence, when its frame's <c>id:</c> line was read, its <c>occurredAt</c> (UTC ticks).</summary>
internal readonly record struct Arrival(long Sequence, long ArrivedTicks, long OccurredTicks);

/// <summary>
/// A Server-Sent Events client over a raw <see cref="HttpClient"/> stream with a minimal line parser: each frame's
/// <c>id:</c> is stamped with the wall clock when read, its <c>data:</c> envelope gives <c>occurredAt</c> (found by text,
/// not by parsing the whole JSON). A <c>reconnect</c> event (the server gave up on a slow client) is recorded.
/// </summary>
internal sealed class SseClient
{
    private const string OccurredAt = "\"occurredAt\":\"";

    private readonly List<Arrival> _arrivals = [];
    private Task _reading = Task.CompletedTask;

    public bool Reconnected { get; private set; }

    /// <summary>Connects (headers received, the server follows the log from then on) and reads in the background.</summary>
    public static async Task<SseClient> ConnectAsync(HttpClient http, string pathAndQuery, CancellationToken cancellationToken)
    {
        var response = await http.GetAsync(pathAndQuery, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        var client = new SseClient();
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        client._reading = Task.Run(() => client.ReadAsync(response, stream, cancellationToken), CancellationToken.None);
        return client;
    }

    /// <summary>The arrivals from index <paramref name="from"/> on; advances it.</summary>
    public List<Arrival> Take(ref int from)
    {
        lock (_arrivals)
        {
            var taken = _arrivals.GetRange(from, _arrivals.Count - from);
            from = _arrivals.Count;
            return taken;
        }
    }

    public long LastSequence
    {
        get
        {
            lock (_arrivals)
            {
                return _arrivals.Count == 0 ? 0 : _arrivals[^1].Sequence;
            }
        }
    }

    /// <summary>Waits for the reader to stop after cancellation; a read that failed for another reason throws here.</summary>
    public async Task StopAsync()
    {
        try
        {
            await _reading;
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ReadAsync(HttpResponseMessage response, Stream stream, CancellationToken cancellationToken)
    {
        using (response)
        using (var reader = new StreamReader(stream))
        {
            var (sequence, arrived, occurred) = (0L, 0L, 0L);
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line.StartsWith("id: ", StringComparison.Ordinal))
                {
                    arrived = DateTimeOffset.UtcNow.UtcTicks;
                    sequence = long.Parse(line.AsSpan(4), CultureInfo.InvariantCulture);
                }
                else if (line.StartsWith("event: reconnect", StringComparison.Ordinal))
                {
                    Reconnected = true;
                    sequence = 0;
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal) && line.IndexOf(OccurredAt, StringComparison.Ordinal) is >= 0 and var at)
                {
                    var value = line.AsSpan(at + OccurredAt.Length);
                    occurred = DateTimeOffset.Parse(value[..value.IndexOf('"')], CultureInfo.InvariantCulture).UtcTicks;
                }
                else if (line.Length == 0 && sequence != 0)
                {
                    lock (_arrivals)
                    {
                        _arrivals.Add(new Arrival(sequence, arrived, occurred));
                    }

                    sequence = 0;
                }
            }
        }
    }
}
