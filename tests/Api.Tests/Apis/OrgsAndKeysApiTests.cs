using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Apis;

public abstract class OrgsAndKeysApiTests : ApiTestBase
{
    [Fact]
    public async Task CreateOrg_Platform_Answers201WithWorkingAdminKey()
    {
        var response = await Platform.PostAsJsonAsync("/api/v1/orgs", new { id = "acme", name = "Acme" });

        var org = await ReadAsync(response, HttpStatusCode.Created);
        Assert.Equal("acme", org.GetProperty("id").GetString());
        Assert.Equal("Acme", org.GetProperty("name").GetString());
        var adminKey = org.GetProperty("adminKey").GetString()!;
        Assert.Matches("^orch_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$", adminKey);
        await ReadAsync(await Client(adminKey).GetAsync("/api/v1/keys"), HttpStatusCode.OK);
    }

    [Fact]
    public async Task CreateOrg_Twice_Answers409AlreadyExists()
    {
        await NewOrgAsync("acme");

        await ProblemAsync(await Platform.PostAsJsonAsync("/api/v1/orgs", new { id = "acme", name = "Again" }), HttpStatusCode.Conflict, "already_exists");
    }

    [Fact]
    public async Task ListOrgs_Platform_ListsEveryOrganisation()
    {
        await NewOrgAsync("acme");
        await NewOrgAsync("globex");

        await Eventually.TrueAsync(async () =>
        {
            var ids = (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/orgs")).GetProperty("items").EnumerateArray().Select(org => org.GetProperty("id").GetString()).ToList();
            return ids.Contains("acme") && ids.Contains("globex") && ids.Contains("default");
        });
    }

    [Fact]
    public async Task CreateKey_Admin_Answers201AndListShowsItWithoutSecret()
    {
        var admin = await NewOrgAsync("acme");

        var created = await ReadAsync(await admin.PostAsJsonAsync("/api/v1/keys", new { name = "ci", role = "operator" }), HttpStatusCode.Created);
        var list = await admin.GetFromJsonAsync<JsonElement>("/api/v1/keys");

        Assert.Equal("operator", created.GetProperty("role").GetString());
        Assert.StartsWith("orch_", created.GetProperty("key").GetString());
        var listed = list.GetProperty("items").EnumerateArray().Single(key => key.GetProperty("id").GetString() == created.GetProperty("id").GetString());
        Assert.Equal("ci", listed.GetProperty("name").GetString());
        Assert.False(listed.TryGetProperty("key", out _));
        Assert.DoesNotContain(created.GetProperty("key").GetString()!, list.GetRawText());
    }

    [Theory]
    [InlineData("""{"name":"k","role":"platform"}""")]
    [InlineData("""{"name":"k","role":"agent"}""")]
    [InlineData("""{"name":"k","role":"viewer","agentId":"a-1"}""")]
    [InlineData("""{"role":"viewer"}""")]
    public async Task CreateKey_BrokenRules_Answers400ValidationFailed(string body) =>
        await ProblemAsync(await Platform.PostAsync("/api/v1/keys", Json(body)), HttpStatusCode.BadRequest, "validation_failed");

    [Fact]
    public async Task CreateKey_UnknownRole_Answers400InvalidJson() =>
        await ProblemAsync(await Platform.PostAsync("/api/v1/keys", Json("""{"name":"k","role":"superuser"}""")), HttpStatusCode.BadRequest, "invalid_json");

    [Fact]
    public async Task RevokeKey_ThePlatformKey_Answers409AndTheKeyKeepsWorking()
    {
        await ProblemAsync(await Platform.DeleteAsync("/api/v1/keys/bootstrap"), HttpStatusCode.Conflict, "invalid_transition");

        await ReadAsync(await Platform.GetAsync("/api/v1/orgs"), HttpStatusCode.OK);
    }

    [Fact]
    public async Task RevokeKey_Unknown_Answers404() =>
        await ProblemAsync(await Platform.DeleteAsync("/api/v1/keys/0123456789abcdef0123456789abcdef"), HttpStatusCode.NotFound, "not_found");

    [Fact]
    public async Task OrgKeys_Platform_IssuesAKeyOfThatOrganisationOnly()
    {
        await NewOrgAsync("acme");
        await NewOrgAsync("globex");

        var response = await Platform.PostAsJsonAsync("/api/v1/orgs/acme/keys", new { name = "recovery", role = "admin" });

        var created = await ReadAsync(response, HttpStatusCode.Created);
        var keyId = created.GetProperty("id").GetString();
        Assert.Equal($"/api/v1/orgs/acme/keys/{keyId}", response.Headers.Location?.ToString());
        var recovered = Client(created.GetProperty("key").GetString());
        var acmeKeys = await recovered.GetFromJsonAsync<JsonElement>("/api/v1/keys");
        Assert.Equal(2, acmeKeys.GetProperty("items").EnumerateArray().Count(key => key.GetProperty("role").GetString() == "admin"));
        Assert.Contains(acmeKeys.GetProperty("items").EnumerateArray(), key => key.GetProperty("id").GetString() == keyId);
        var globexKeys = await Platform.GetFromJsonAsync<JsonElement>("/api/v1/orgs/globex/keys");
        Assert.DoesNotContain(globexKeys.GetProperty("items").EnumerateArray(), key => key.GetProperty("id").GetString() == keyId);
    }

    [Fact]
    public async Task OrgKeys_Platform_RevokesAnOrganisationsLastAdminKey_AndIssuesItANewOne()
    {
        var admin = await NewOrgAsync("acme");
        var adminKeyId = (await Platform.GetFromJsonAsync<JsonElement>("/api/v1/orgs/acme/keys")).GetProperty("items").EnumerateArray().Single().GetProperty("id").GetString();

        await ProblemAsync(await Platform.DeleteAsync($"/api/v1/orgs/globex/keys/{adminKeyId}"), HttpStatusCode.NotFound, "not_found");
        await NewOrgAsync("globex");
        await ProblemAsync(await Platform.DeleteAsync($"/api/v1/orgs/globex/keys/{adminKeyId}"), HttpStatusCode.NotFound, "not_found");
        await ReadAsync(await admin.GetAsync("/api/v1/keys"), HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.NoContent, (await Platform.DeleteAsync($"/api/v1/orgs/acme/keys/{adminKeyId}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await admin.GetAsync("/api/v1/keys")).StatusCode);

        var created = await ReadAsync(await Platform.PostAsJsonAsync("/api/v1/orgs/acme/keys", new { name = "admin", role = "admin" }), HttpStatusCode.Created);
        await ReadAsync(await Client(created.GetProperty("key").GetString()).GetAsync("/api/v1/keys"), HttpStatusCode.OK);
    }

    [Fact]
    public async Task OrgKeys_UnknownOrInvalidOrganisation_Answers404Or400()
    {
        await ProblemAsync(await Platform.PostAsJsonAsync("/api/v1/orgs/nowhere/keys", new { name = "k", role = "admin" }), HttpStatusCode.NotFound, "not_found");
        await ProblemAsync(await Platform.GetAsync("/api/v1/orgs/nowhere/keys"), HttpStatusCode.NotFound, "not_found");
        await ProblemAsync(await Platform.DeleteAsync("/api/v1/orgs/nowhere/keys/k-1"), HttpStatusCode.NotFound, "not_found");
        await ProblemAsync(await Platform.GetAsync("/api/v1/orgs/no%20such/keys"), HttpStatusCode.BadRequest, "validation_failed");
        await ProblemAsync(await Platform.PostAsync("/api/v1/orgs/default/keys", Json("""{"name":"k","role":"platform"}""")), HttpStatusCode.BadRequest, "validation_failed");
        Assert.DoesNotContain((await Platform.GetFromJsonAsync<JsonElement>("/api/v1/orgs")).GetProperty("items").EnumerateArray(),
            org => org.GetProperty("id").GetString() == "nowhere");
    }

    [Theory]
    [InlineData("admin")]
    [InlineData("operator")]
    [InlineData("viewer")]
    [InlineData("agent")]
    public async Task OrgKeys_AnyKeyOfAnOrganisation_Answers403AndChangesNothing(string role)
    {
        var admin = await NewOrgAsync("acme");
        var caller = role == "admin" ? admin : await KeyAsync(admin, role, role == "agent" ? "a-1" : null);
        var before = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/keys")).GetProperty("items").GetRawText();
        var anyKeyId = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/keys")).GetProperty("items")[0].GetProperty("id").GetString();

        await ProblemAsync(await caller.PostAsJsonAsync("/api/v1/orgs/acme/keys", new { name = "k", role = "admin" }), HttpStatusCode.Forbidden, "forbidden");
        await ProblemAsync(await caller.GetAsync("/api/v1/orgs/acme/keys"), HttpStatusCode.Forbidden, "forbidden");
        await ProblemAsync(await caller.DeleteAsync($"/api/v1/orgs/acme/keys/{anyKeyId}"), HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(before, (await admin.GetFromJsonAsync<JsonElement>("/api/v1/keys")).GetProperty("items").GetRawText());
    }

    [Fact]
    public async Task OrgKeys_RevokeThePlatformKey_Answers409AndTheKeyKeepsWorking()
    {
        await ProblemAsync(await Platform.DeleteAsync("/api/v1/orgs/default/keys/bootstrap"), HttpStatusCode.Conflict, "invalid_transition");

        await ReadAsync(await Platform.GetAsync("/api/v1/orgs/default/keys"), HttpStatusCode.OK);
    }
}

public sealed class SqliteOrgsAndKeysApiTests : OrgsAndKeysApiTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => Task.FromResult<ApiStorage>(new ApiStorage.Sqlite());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresOrgsAndKeysApiTests(PostgresServerFixture postgres) : OrgsAndKeysApiTests
{
    private protected override Task<ApiStorage> CreateStorageAsync() => ApiStorage.Postgres.CreateAsync(postgres);
}
