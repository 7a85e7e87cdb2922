using System.Globalization;
using System.Text;

namespace Orchestration.Product.Bench;

/// <summary>One event as a client received it: its sequence, when its frame's <c>id:</c> line was read, its <c>occurredAt</c> (UTC ticks).</summary>
internal readonly record struct Arrival(long Sequence, long ArrivedTicks, long OccurredTicks)
{
    /// <summary>occurredAt → client, in milliseconds.</summary>
    public static double Milliseconds(Arrival arrival) => TimeSpan.FromTicks(arrival.ArrivedTicks - arrival.OccurredTicks).TotalMilliseconds;
}

/// <summary>
/// A Server-Sent Events client over a raw <see cref="HttpClient"/> stream with a minimal parser over the bytes: each
/// frame is stamped with the wall clock when the read that completed it returned (before any parsing, so a hundred
/// clients in one process do not delay each other's stamps), its <c>data:</c> envelope gives <c>occurredAt</c> (found by
/// text, not by parsing the whole JSON). A <c>reconnect</c> event (the server gave up on a slow client) is recorded.
/// </summary>
internal sealed class SseClient
{
    private static ReadOnlySpan<byte> OccurredAt => "\"occurredAt\":\""u8;

    // In chunks below the large object heap's threshold: a hundred clients growing one list each double them at the same
    // moment, and large allocations wait while a background collection runs.
    private const int ChunkLength = 2048;
    private readonly List<Arrival[]> _chunks = [];
    private int _count;
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
        lock (_chunks)
        {
            var taken = new List<Arrival>(_count - from);
            for (var i = from; i < _count; i++)
            {
                taken.Add(_chunks[i / ChunkLength][i % ChunkLength]);
            }

            from = _count;
            return taken;
        }
    }

    public long LastSequence
    {
        get
        {
            lock (_chunks)
            {
                return _count == 0 ? 0 : _chunks[(_count - 1) / ChunkLength][(_count - 1) % ChunkLength].Sequence;
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
        {
            var buffer = new byte[64 * 1024];
            var carried = 0; // the start of a frame whose end has not arrived yet
            while (true)
            {
                if (carried == buffer.Length)
                {
                    // The server's frames are a few hundred bytes, ended by a blank line ("\n\n"): this is no SSE stream of ours.
                    throw new InvalidDataException($"No end of frame in {carried} bytes of the event stream.");
                }

                var read = await stream.ReadAsync(buffer.AsMemory(carried), cancellationToken);
                if (read == 0)
                {
                    return;
                }

                // Everything one read returns arrived together: stamped once, before any parsing.
                var arrived = DateTimeOffset.UtcNow.UtcTicks;
                var received = buffer.AsSpan(0, carried + read);
                var consumed = 0;
                while (received[consumed..].IndexOf("\n\n"u8) is >= 0 and var end)
                {
                    Record(received.Slice(consumed, end + 1), arrived);
                    consumed += end + 2;
                }

                received[consumed..].CopyTo(buffer);
                carried = received.Length - consumed;
            }
        }
    }

    /// <summary>One frame's lines (each ending in a newline); comments and frames without an id are not events.</summary>
    private void Record(ReadOnlySpan<byte> frame, long arrived)
    {
        var (sequence, occurred) = (0L, 0L);
        while (frame.IndexOf((byte)'\n') is >= 0 and var end)
        {
            var line = frame[..end];
            frame = frame[(end + 1)..];
            if (line.StartsWith("id: "u8))
            {
                sequence = long.Parse(line[4..], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("event: reconnect"u8))
            {
                Reconnected = true;
                return;
            }
            else if (line.StartsWith("data: "u8) && line.IndexOf(OccurredAt) is >= 0 and var at)
            {
                var value = line[(at + OccurredAt.Length)..];
                occurred = DateTimeOffset.Parse(Encoding.UTF8.GetString(value[..value.IndexOf((byte)'"')]), CultureInfo.InvariantCulture).UtcTicks;
            }
        }

        if (sequence != 0)
        {
            lock (_chunks)
            {
                if (_count % ChunkLength == 0)
                {
                    _chunks.Add(new Arrival[ChunkLength]);
                }

                _chunks[_count / ChunkLength][_count % ChunkLength] = new Arrival(sequence, arrived, occurred);
                _count++;
            }
        }
    }
}
