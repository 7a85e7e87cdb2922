using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Orchestration.Api.Extensions;

namespace Orchestration.Api;

/// <summary>
/// Refuses a request over <see cref="ApiOptions"/>' limits with a problem: a request target over
/// <see cref="ApiOptions.MaxRequestTargetBytes"/> with 414 <c>uri_too_long</c>, headers over
/// <see cref="ApiOptions.MaxRequestHeadersBytes"/> or <see cref="ApiOptions.MaxRequestHeaderCount"/> with 431
/// <c>headers_too_large</c>, a body over <see cref="ApiOptions.MaxRequestBodyBytes"/> with 413 <c>payload_too_large</c>
/// (at once when <c>Content-Length</c> says so, otherwise when reading passes the limit; the server drains or closes
/// the rest).
/// </summary>
/// <remarks>
/// Kestrel answers a request line or headers over its own limits before any middleware runs, with an empty body that
/// no hook can change. So <see cref="ConfigureKestrel"/> puts Kestrel's limits <see cref="KestrelCeilingFactor"/> times
/// above these: a client that sends a long query or a big header gets a readable problem, and only a request far past
/// any reasonable size meets Kestrel's bare answer.
/// </remarks>
internal sealed class RequestLimitsMiddleware(RequestDelegate next, IOptions<ApiOptions> options, IProblemDetailsService problems)
{
    /// <summary>How far above the Api's limits Kestrel's own are (it buffers a request's head up to them).</summary>
    internal const int KestrelCeilingFactor = 8;

    /// <summary>Sets Kestrel's request-head limits above the Api's, so that the Api is the one that refuses.</summary>
    public static void ConfigureKestrel(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions kestrel, ApiOptions api)
    {
        // The request line is the method, the target and the version: leave room for the longest method and version.
        kestrel.Limits.MaxRequestLineSize = checked((api.MaxRequestTargetBytes + 64) * KestrelCeilingFactor);
        kestrel.Limits.MaxRequestHeadersTotalSize = checked(api.MaxRequestHeadersBytes * KestrelCeilingFactor);
        kestrel.Limits.MaxRequestHeaderCount = checked(api.MaxRequestHeaderCount * KestrelCeilingFactor);
        kestrel.Limits.Http2.MaxRequestHeaderFieldSize = Math.Max(kestrel.Limits.Http2.MaxRequestHeaderFieldSize, kestrel.Limits.MaxRequestHeadersTotalSize);
    }

    public async Task InvokeAsync(HttpContext context)
    {
        var limits = options.Value;
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? string.Empty;
        if (target.Length > limits.MaxRequestTargetBytes)
        {
            await ApiProblems.WriteAsync(problems, context, StatusCodes.Status414UriTooLong, ApiProblems.UriTooLong,
                $"The request target (path and query) is {target.Length} bytes; at most {limits.MaxRequestTargetBytes} are accepted.");
            return;
        }

        var (headerCount, headerBytes) = Measure(context.Request.Headers);
        if (headerCount > limits.MaxRequestHeaderCount || headerBytes > limits.MaxRequestHeadersBytes)
        {
            await ApiProblems.WriteAsync(problems, context, StatusCodes.Status431RequestHeaderFieldsTooLarge, ApiProblems.HeadersTooLarge,
                $"The request has {headerCount} header lines of {headerBytes} bytes in all; at most {limits.MaxRequestHeaderCount} lines " +
                $"of {limits.MaxRequestHeadersBytes} bytes are accepted.");
            return;
        }

        var limit = limits.MaxRequestBodyBytes;
        if (context.Request.ContentLength > limit)
        {
            await ApiProblems.WriteAsync(problems, context, StatusCodes.Status413PayloadTooLarge, ApiProblems.PayloadTooLarge,
                $"The request body is {context.Request.ContentLength} bytes; at most {limit} are accepted.");
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = limit;
        }

        context.Request.Body = new LimitedReadStream(context.Request.Body, limit);
        await next(context);
    }

    /// <summary>Header lines and their bytes as HTTP/1.1 sends them: <c>name: value</c> and a line break for each value.</summary>
    private static (int Lines, long Bytes) Measure(IHeaderDictionary headers)
    {
        var lines = 0;
        long bytes = 0;
        foreach (var (name, values) in headers)
        {
            foreach (var value in values)
            {
                lines++;
                bytes += name.Length + 2 + (value?.Length ?? 0) + 2;
            }
        }

        return (lines, bytes);
    }

    /// <summary>Throws a 413 <see cref="BadHttpRequestException"/> once more than the limit has been read.</summary>
    private sealed class LimitedReadStream(Stream inner, long limit) : Stream
    {
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int read)
        {
            _read += read;
            if (_read > limit)
            {
                throw new BadHttpRequestException($"The request body is larger than {limit} bytes.", StatusCodes.Status413PayloadTooLarge);
            }

            return read;
        }
    }
}
