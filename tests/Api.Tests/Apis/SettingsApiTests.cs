using System.Net;
using System.Net.Http.Json;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Apis;

public abstract class SettingsApiTests : ApiTestBase
{
    [Fact]
    public async Task Get_New_AnswersTheDefaults()
    {
        var settings = await ReadAsync(await Platform.GetAsync("/api/v1/settings"), HttpStatusCode.OK);

        Assert.Equal(20, settings.GetProperty("heartbeatIntervalSeconds").GetInt32());
        Assert.Equal(3, settings.GetProperty("missedHeartbeatsAllowed").GetInt32());
        Assert.Equal(1_000, settings.GetProperty("rateLimitPerSecond").GetInt32());
        Assert.Equal(2_000, settings.GetProperty("rateLimitBurst").GetInt32());
        Assert.False(settings.TryGetProperty("heartbeatWindow", out _));
    }

    [Fact]
    public async Task Put_Admin_ChangesOnlyTheGivenFieldsAndTheNextHeartbeatIsDueAtTheNewInterval()
    {
        await RegisterAgentAsync(Platform, "a-1");

        var updated = await ReadAsync(await Platform.PutAsJsonAsync("/api/v1/settings", new { heartbeatIntervalSeconds = 5 }), HttpStatusCode.OK);
        var beat = await ReadAsync(await Platform.PostAsync("/api/v1/agents/a-1/heartbeat", null), HttpStatusCode.OK);
        var agent = await ReadAsync(await Platform.GetAsync("/api/v1/agents/a-1"), HttpStatusCode.OK);

        Assert.Equal((5, 3), (updated.GetProperty("heartbeatIntervalSeconds").GetInt32(), updated.GetProperty("missedHeartbeatsAllowed").GetInt32()));
        var interval = beat.GetProperty("nextHeartbeatDueAt").GetDateTimeOffset() - agent.GetProperty("lastHeartbeatAt").GetDateTimeOffset();
        Assert.Equal(TimeSpan.FromSeconds(5), interval);
    }

    [Fact]
    public async Task Put_OutOfRange_ReportsEveryFieldAndChangesNothing()
    {
        var problem = await ProblemAsync(
            await Platform.PutAsJsonAsync("/api/v1/settings", new { heartbeatIntervalSeconds = 0, rateLimitBurst = -1 }),
            HttpStatusCode.BadRequest,
            "validation_failed");

        Assert.True(problem.GetProperty("errors").TryGetProperty("heartbeatIntervalSeconds", out _));
        Assert.True(problem.GetProperty("errors").TryGetProperty("rateLimitBurst", out _));
        var settings = await ReadAsync(await Platform.GetAsync("/api/v1/settings"), HttpStatusCode.OK);
        Assert.Equal(20, settings.GetProperty("heartbeatIntervalSeconds").GetInt32());
    }

    [Fact]
    public async Task Put_Operator_ChangesTheSettings()
    {
        var client = await KeyAsync(Platform, "operator");

        await ReadAsync(await client.PutAsJsonAsync("/api/v1/settings", new { heartbeatIntervalSeconds = 5 }), HttpStatusCode.OK);

        Assert.Equal(5, (await ReadAsync(await Platform.GetAsync("/api/v1/settings"), HttpStatusCode.OK)).GetProperty("heartbeatIntervalSeconds").GetInt32());
    }

    [Theory]
    [InlineData("viewer")]
    [InlineData("agent")]
    public async Task Put_ViewerOrAgent_Answers403ButMayRead(string role)
    {
        var client = await KeyAsync(Platform, role, role == "agent" ? "a-1" : null);

        await ProblemAsync(await client.PutAsJsonAsync("/api/v1/settings", new { heartbeatIntervalSeconds = 5 }), HttpStatusCode.Forbidden, "forbidden");
        await ReadAsync(await client.GetAsync("/api/v1/settings"), HttpStatusCode.OK);
    }

    [Fact]
    public async Task Put_OtherOrganisation_DoesNotChangeThisOne()
    {
        var other = await NewOrgAsync("other-org");

        await ReadAsync(await other.PutAsJsonAsync("/api/v1/settings", new { missedHeartbeatsAllowed = 9 }), HttpStatusCode.OK);

        var mine = await ReadAsync(await Platform.GetAsync("/api/v1/settings"), HttpStatusCode.OK);
        Assert.Equal(3, mine.GetProperty("missedHeartbeatsAllowed").GetInt32());
    }
}

public sealed class SqliteSettingsApiTests : SettingsApiTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => Task.FromResult<ApiStorage>(new ApiStorage.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresSettingsApiTests(PostgresServerFixture postgres) : SettingsApiTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => ApiStorage.Postgres.CreateAsync(postgres);
}
