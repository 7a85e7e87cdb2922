namespace Orchestration.Api.Extensions;

/// <summary>The Api's settings, bound from the <c>Orchestration</c> configuration section.</summary>
internal sealed class ApiOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Orchestration";

    /// <summary>The platform key to create on first start (<c>ORCHESTRATION_BOOTSTRAP_KEY</c> wins). Default: generated.</summary>
    public string? BootstrapKey { get; set; }

    /// <summary>Where a generated bootstrap key is written. Default: <c>bootstrap-key</c> next to the SQLite file, or <c>.data/bootstrap-key</c>.</summary>
    public string? BootstrapKeyFile { get; set; }

    /// <summary>The longest request target (path and query) accepted. Default: 8 KiB, Kestrel's own default.</summary>
    public int MaxRequestTargetBytes { get; set; } = 8 * 1024;

    /// <summary>The most header bytes (names, values and line breaks) accepted. Default: 32 KiB, Kestrel's own default.</summary>
    public int MaxRequestHeadersBytes { get; set; } = 32 * 1024;

    /// <summary>The most header lines accepted. Default: 100, Kestrel's own default.</summary>
    public int MaxRequestHeaderCount { get; set; } = 100;

    /// <summary>The largest request body accepted. Default: 1 MiB.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>The largest task input (and output) in UTF-8 JSON. Default: 256 KiB.</summary>
    public int MaxTaskInputBytes { get; set; } = 256 * 1024;

    /// <summary>How often an idle event stream sends a comment line. Default: 15 s.</summary>
    public TimeSpan SseHeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often an event stream checks that its key is still valid (a revoked key's streams end). Default: 1 s.</summary>
    public TimeSpan SseKeyCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Events buffered per stream client before it is asked to reconnect. Default: 10,000.</summary>
    public int SseBufferSize { get; set; } = 10_000;

    /// <summary>How long an organisation's rate-limit settings are cached. Default: 10 s.</summary>
    public TimeSpan RateLimitSettingsCacheDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an answered <c>Idempotency-Key</c> is replayed. Default: 24 h.</summary>
    public TimeSpan IdempotencyRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long a request may stay in flight before its <c>Idempotency-Key</c> is free again. Default: 2 min.</summary>
    public TimeSpan IdempotencyInFlightTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The longest single wait of a claim long-poll (under the runtime's 30 s call timeout). Default: 10 s.</summary>
    public TimeSpan ClaimWaitChunk { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Every rule these settings break, one message each; none when they are usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (MaxRequestTargetBytes <= 0 || MaxRequestHeadersBytes <= 0 || MaxRequestHeaderCount <= 0 || MaxRequestBodyBytes <= 0)
        {
            yield return "The request limits (MaxRequestTargetBytes, MaxRequestHeadersBytes, MaxRequestHeaderCount, MaxRequestBodyBytes) must be positive.";
        }

        if (MaxRequestTargetBytes > 1024 * 1024 || MaxRequestHeadersBytes > 1024 * 1024 || MaxRequestHeaderCount > 10_000)
        {
            // Kestrel buffers a request's head up to several times these (RequestLimitsMiddleware.KestrelCeilingFactor).
            yield return "MaxRequestTargetBytes and MaxRequestHeadersBytes may be at most 1 MiB, MaxRequestHeaderCount at most 10,000.";
        }

        if (IdempotencyInFlightTimeout <= TimeSpan.FromSeconds(Apis.TasksApi.MaxWaitSeconds))
        {
            // A claim may wait that long; a key freed while its request still runs would let a retry claim a second task.
            yield return $"IdempotencyInFlightTimeout must be longer than the longest claim wait ({Apis.TasksApi.MaxWaitSeconds} s).";
        }

        if (IdempotencyRetention <= IdempotencyInFlightTimeout)
        {
            yield return "IdempotencyRetention must be longer than IdempotencyInFlightTimeout.";
        }

        if (ClaimWaitChunk <= TimeSpan.Zero || SseHeartbeatInterval <= TimeSpan.Zero || SseKeyCheckInterval <= TimeSpan.Zero
            || RateLimitSettingsCacheDuration < TimeSpan.Zero || SseBufferSize <= 0 || MaxTaskInputBytes <= 0)
        {
            yield return "ClaimWaitChunk, SseHeartbeatInterval, SseKeyCheckInterval, SseBufferSize and MaxTaskInputBytes must be positive; RateLimitSettingsCacheDuration may not be negative.";
        }
    }
}
