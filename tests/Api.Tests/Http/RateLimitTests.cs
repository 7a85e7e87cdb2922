using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Grains.Organisations;
using Orchestration.Runtime;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Http;

public abstract class RateLimitTests : ApiTestBase
{
    [Fact]
    public async Task AnyRequest_BucketEmpty_Answers429WithRetryAfter()
    {
        var admin = await NewOrgAsync("acme");
        await Factory.Services.GetRequiredService<IGrainFactory>().GetGrain<IOrganisationGrain>("acme")
            .UpdateSettingsAsync(new OrganisationSettings(RateLimitPerSecond: 1, RateLimitBurst: 2));

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 6; i++)
        {
            responses.Add(await admin.GetAsync("/api/v1/tasks"));
        }

        var limited = responses.First(response => response.StatusCode == HttpStatusCode.TooManyRequests);
        await ProblemAsync(limited, HttpStatusCode.TooManyRequests, "rate_limited");
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Equal(HttpStatusCode.OK, responses[0].StatusCode);
    }

    [Fact]
    public async Task AnyRequest_DefaultSettings_DoesNotThrottleAWellBehavedAgent()
    {
        for (var i = 0; i < 200; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await Platform.GetAsync("/api/v1/agents")).StatusCode);
        }
    }
}

public sealed class SqliteRateLimitTests : RateLimitTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => Task.FromResult<ApiStorage>(new ApiStorage.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresRateLimitTests(PostgresServerFixture postgres) : RateLimitTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => ApiStorage.Postgres.CreateAsync(postgres);
}
