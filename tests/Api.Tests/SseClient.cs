using System.Net.Http.Headers;

namespace Orchestration.Api.Tests;

/// <summary>One Server-Sent Events frame: its id, type and data, or a comment.</summary>
public sealed record SseFrame(string? Id, string? Event, string? Data, string? Comment);

/// <summary>Reads an event stream frame by frame, as a browser's EventSource would.</summary>
public sealed class SseClient : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private SseClient(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    public HttpResponseMessage Response => _response;

    /// <summary>Connects; returns once the response headers arrived.</summary>
    public static async Task<SseClient> ConnectAsync(HttpClient client, string path, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return new SseClient(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }

    /// <summary>The next frame; <c>null</c> when the stream ended. Fails after <paramref name="timeout"/> (default 20 s).</summary>
    public async Task<SseFrame?> NextAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        string? id = null, type = null, data = null, comment = null;
        var any = false;
        while (true)
        {
            var line = await _reader.ReadLineAsync(cancel.Token);
            if (line is null)
            {
                return any ? new SseFrame(id, type, data, comment) : null;
            }

            if (line.Length == 0)
            {
                if (any)
                {
                    return new SseFrame(id, type, data, comment);
                }

                continue;
            }

            any = true;
            if (line.StartsWith(':'))
            {
                comment = line[1..].Trim();
            }
            else if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line[4..];
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                type = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data = line[6..];
            }
        }
    }

    /// <summary>The next frame that is an event (comments skipped).</summary>
    public async Task<SseFrame?> NextEventAsync(TimeSpan? timeout = null)
    {
        while (await NextAsync(timeout) is { } frame)
        {
            if (frame.Event is not null)
            {
                return frame;
            }
        }

        return null;
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }
}
