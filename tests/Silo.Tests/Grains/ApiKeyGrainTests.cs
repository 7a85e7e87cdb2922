using Orchestration.Grains;
using Orchestration.Grains.Keys;
using Orchestration.Runtime.Testing;

namespace Orchestration.Silo.Tests.Grains;

/// <summary>
/// A key is given a new secret only as the key its request described, and never comes back from revocation: a request
/// run again after a crash replaces the secret nobody saw, and nothing else.
/// </summary>
public sealed class ApiKeyGrainTests : IAsyncLifetime
{
    private static readonly IssueApiKey s_issued = new("acme", "ci", ApiKeyRole.Operator, null, new string('a', 64));

    private readonly StorageChoice.Sqlite _storage = new();
    private ProductCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await ProductCluster.StartAsync(_storage);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task ReissueAsync_TheKeyTheRequestDescribes_OnlyTheNewSecretAuthenticates()
    {
        var key = _cluster.Grains.GetGrain<IApiKeyGrain>("k1");
        await key.IssueAsync(s_issued);

        await key.ReissueAsync(s_issued with { SecretHash = new string('b', 64) });
        await _cluster.RestartAsync();

        var stored = _cluster.Grains.GetGrain<IApiKeyGrain>("k1");
        Assert.Null(await stored.AuthenticateAsync(new string('a', 64)));
        Assert.Equal("acme", (await stored.AuthenticateAsync(new string('b', 64)))?.OrgId);
    }

    [Theory]
    [InlineData("other-org", "ci", ApiKeyRole.Operator)]
    [InlineData("acme", "other-name", ApiKeyRole.Operator)]
    [InlineData("acme", "ci", ApiKeyRole.Admin)]
    public async Task ReissueAsync_AnotherKeyThanTheRequestDescribes_AlreadyExistsAndTheSecretStays(string orgId, string name, ApiKeyRole role)
    {
        var key = _cluster.Grains.GetGrain<IApiKeyGrain>("k1");
        await key.IssueAsync(s_issued);

        var refused = await Assert.ThrowsAsync<OrchestrationException>(() =>
            key.ReissueAsync(new IssueApiKey(orgId, name, role, null, new string('b', 64))));

        Assert.Equal(ProblemCodes.AlreadyExists, refused.Code);
        Assert.NotNull(await key.AuthenticateAsync(new string('a', 64)));
    }

    [Fact]
    public async Task ReissueAsync_RevokedKey_StaysRevoked()
    {
        var key = _cluster.Grains.GetGrain<IApiKeyGrain>("k1");
        await key.IssueAsync(s_issued);
        await key.RevokeAsync("acme");

        var refused = await Assert.ThrowsAsync<OrchestrationException>(() => key.ReissueAsync(s_issued with { SecretHash = new string('b', 64) }));

        Assert.Equal(ProblemCodes.InvalidTransition, refused.Code);
        Assert.Null(await key.AuthenticateAsync(new string('b', 64)));
    }

    [Fact]
    public async Task ReissueAsync_NoSuchKey_NotFoundAndNothingIsStored()
    {
        var key = _cluster.Grains.GetGrain<IApiKeyGrain>("k-none");

        var refused = await Assert.ThrowsAsync<OrchestrationException>(() => key.ReissueAsync(s_issued));

        Assert.Equal(ProblemCodes.NotFound, refused.Code);
        var missing = await Assert.ThrowsAsync<OrchestrationException>(key.GetAsync);
        Assert.Equal(ProblemCodes.NotFound, missing.Code);
    }
}
