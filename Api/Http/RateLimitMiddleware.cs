using Orchestration.Api.Auth;

namespace Orchestration.Api;

/// <summary>Answers 429 <c>rate_limited</c> with <c>Retry-After</c> when the calling key's bucket is empty.</summary>
internal sealed class RateLimitMiddleware(RequestDelegate next, KeyRateLimiter limiter, IProblemDetailsService problems)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (Caller.From(context.User) is { } caller && await limiter.TryAcquireAsync(caller) is { } retryAfter)
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await ApiProblems.WriteAsync(problems, context, StatusCodes.Status429TooManyRequests, ApiProblems.RateLimited,
                $"This key has used up its request rate; retry after {seconds} s.");
            return;
        }

        await next(context);
    }
}
