using System.Net;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The HTTP resilience every outgoing client gets (Microsoft.Extensions.Http.Resilience is not in our feed, so this is
/// Polly.Core directly): up to 3 retries with jittered exponential back-off on transient failures (connection errors,
/// 408, 429, 5xx) for idempotent methods only, each attempt limited to 10 s and the whole call to 30 s.
/// </summary>
internal sealed class ResilienceHandler : DelegatingHandler
{
    private static readonly HashSet<HttpMethod> s_idempotent = [HttpMethod.Get, HttpMethod.Head, HttpMethod.Options, HttpMethod.Put, HttpMethod.Delete];
    private static readonly ResiliencePropertyKey<HttpRequestMessage> s_requestKey = new("request");

    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;

    public ResilienceHandler(TimeProvider timeProvider, TimeSpan? baseDelay = null)
    {
        _pipeline = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = timeProvider }
            .AddTimeout(TimeSpan.FromSeconds(30))
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = 3,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = baseDelay ?? TimeSpan.FromMilliseconds(200),
                ShouldHandle = arguments => ValueTask.FromResult(IsRetryable(arguments.Context, arguments.Outcome)),
                OnRetry = arguments =>
                {
                    arguments.Outcome.Result?.Dispose(); // the response being retried is never read
                    return ValueTask.CompletedTask;
                },
            })
            .AddTimeout(TimeSpan.FromSeconds(10))
            .Build();
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(s_requestKey, request);
        try
        {
            return await _pipeline.ExecuteAsync(
                static async (context, handler) =>
                {
                    var request = context.Properties.GetValue(s_requestKey, null!);
                    return await handler.SendCoreAsync(request, context.CancellationToken);
                },
                context,
                this);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private Task<HttpResponseMessage> SendCoreAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        base.SendAsync(request, cancellationToken);

    private static bool IsRetryable(ResilienceContext context, Outcome<HttpResponseMessage> outcome)
    {
        var request = context.Properties.GetValue(s_requestKey, null!);
        if (request is null || !s_idempotent.Contains(request.Method))
        {
            return false;
        }

        if (outcome.Exception is HttpRequestException or TimeoutRejectedException)
        {
            return true;
        }

        if (outcome.Result is not { } response)
        {
            return false;
        }

        return response.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500;
    }
}
