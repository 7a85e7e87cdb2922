using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Orchestration.Api.Auth;
using Orchestration.Api.Extensions;
using Orchestration.Grains.Organisations;
using Orchestration.Runtime;

namespace Orchestration.Api;

/// <summary>
/// A token bucket per API key, sized by its organisation's settings (<see cref="OrganisationSettings.RateLimitPerSecond"/>,
/// <see cref="OrganisationSettings.RateLimitBurst"/>), which are cached briefly per organisation. Limits are per process.
/// </summary>
internal sealed class KeyRateLimiter(IGrainFactory grains, TimeProvider timeProvider, IOptions<ApiOptions> options) : IDisposable
{
    private readonly ConcurrentDictionary<string, (OrganisationSettings Settings, DateTimeOffset Until)> _settings = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    /// <summary>Takes one token for <paramref name="caller"/>; <c>null</c> when granted, else how long to wait.</summary>
    public async ValueTask<TimeSpan?> TryAcquireAsync(Caller caller)
    {
        var settings = await SettingsAsync(caller.OrgId);
        var bucket = _buckets.AddOrUpdate(caller.KeyId,
            static (_, settings) => new Bucket(settings),
            static (_, existing, settings) =>
            {
                if (existing.Matches(settings))
                {
                    return existing;
                }

                existing.Limiter.Dispose();
                return new Bucket(settings);
            },
            settings);
        using var lease = bucket.Limiter.AttemptAcquire();
        if (lease.IsAcquired)
        {
            return null;
        }

        return lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) && retryAfter > TimeSpan.Zero
            ? retryAfter
            : bucket.Period;
    }

    public void Dispose()
    {
        foreach (var bucket in _buckets.Values)
        {
            bucket.Limiter.Dispose();
        }
    }

    private async ValueTask<OrganisationSettings> SettingsAsync(string orgId)
    {
        var now = timeProvider.GetUtcNow();
        if (_settings.TryGetValue(orgId, out var cached) && cached.Until > now)
        {
            return cached.Settings;
        }

        var settings = await grains.GetGrain<IOrganisationGrain>(orgId).GetSettingsAsync();
        _settings[orgId] = (settings, now + options.Value.RateLimitSettingsCacheDuration);
        return settings;
    }

    private sealed class Bucket
    {
        public Bucket(OrganisationSettings settings)
        {
            PerSecond = Math.Max(1, settings.RateLimitPerSecond);
            Burst = Math.Max(1, settings.RateLimitBurst);
            // Replenish ten times a second when the rate allows it, so a bucket never waits a whole second to refill.
            (Period, var tokens) = PerSecond >= 10 ? (TimeSpan.FromMilliseconds(100), PerSecond / 10) : (TimeSpan.FromSeconds(1.0 / PerSecond), 1);
            Limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = Burst,
                TokensPerPeriod = tokens,
                ReplenishmentPeriod = Period,
                QueueLimit = 0,
                AutoReplenishment = true,
            });
        }

        public int PerSecond { get; }

        public int Burst { get; }

        public TimeSpan Period { get; }

        public TokenBucketRateLimiter Limiter { get; }

        public bool Matches(OrganisationSettings settings) =>
            PerSecond == Math.Max(1, settings.RateLimitPerSecond) && Burst == Math.Max(1, settings.RateLimitBurst);
    }
}
