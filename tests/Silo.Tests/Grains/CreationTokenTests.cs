using Orchestration.Grains;
using Orchestration.Grains.Events;
using Orchestration.Grains.Organisations;
using Orchestration.Grains.Tasks;
using Orchestration.Runtime.Testing;

namespace Orchestration.Silo.Tests.Grains;

/// <summary>
/// A create that finds its object answers it only as a run of the request that created it (the same token, kept across
/// a restart); any other request naming the same id, with another token or none, is refused, and the object is unchanged.
/// </summary>
public sealed class CreationTokenTests : IAsyncLifetime
{
    private static readonly EventActor s_operator = new("api_key", "ops");

    private readonly StorageChoice.Sqlite _storage = new();
    private ProductCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await ProductCluster.StartAsync(_storage);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task CreateTask_AgainUnderItsToken_AnswersTheTask_UnderAnyOtherOrNone_AlreadyExists()
    {
        await TaskGrain("build").CreateAsync(Build("Build") with { CreationToken = "token-1" }, s_operator);
        await _cluster.RestartAsync();

        var again = await TaskGrain("build").CreateAsync(Build("Build") with { CreationToken = "token-1" }, s_operator);

        Assert.Equal("build", again.Id);
        await AssertAlreadyExistsAsync(() => TaskGrain("build").CreateAsync(Build("Other") with { CreationToken = "token-2" }, s_operator));
        await AssertAlreadyExistsAsync(() => TaskGrain("build").CreateAsync(Build("Other"), s_operator));
        await AssertAlreadyExistsAsync(() => TaskGrain("build").CreateAsync(Build("Other") with { CreationToken = "build" }, s_operator));
        Assert.Equal("Build", (await TaskGrain("build").GetAsync()).Title);
    }

    [Fact]
    public async Task CreateTask_KeptNoToken_MatchesOnlyATokenThatIsItsId()
    {
        // A task created before tokens were kept, by a request whose record reserved its id.
        await TaskGrain("01jd0000000000000000000000").CreateAsync(Build("Build"), s_operator);

        var again = await TaskGrain("01jd0000000000000000000000").CreateAsync(Build("Build") with { CreationToken = "01jd0000000000000000000000" }, s_operator);

        Assert.Equal("01jd0000000000000000000000", again.Id);
        await AssertAlreadyExistsAsync(() => TaskGrain("01jd0000000000000000000000").CreateAsync(Build("Build") with { CreationToken = "token-1" }, s_operator));
        await AssertAlreadyExistsAsync(() => TaskGrain("01jd0000000000000000000000").CreateAsync(Build("Build"), s_operator));
    }

    [Fact]
    public async Task CreateOrganisation_AgainUnderItsToken_AnswersIt_UnderAnyOtherOrNone_AlreadyExists()
    {
        await Org("acme").CreateAsync("Acme", "token-1");
        await _cluster.RestartAsync();

        var again = await Org("acme").CreateAsync("Acme", "token-1");

        Assert.Equal("Acme", again.Name);
        await AssertAlreadyExistsAsync(() => Org("acme").CreateAsync("Other", "token-2"));
        await AssertAlreadyExistsAsync(() => Org("acme").CreateAsync("Other", null));
        await AssertAlreadyExistsAsync(() => Org("acme").CreateAsync("Other", "acme"));
        await Org("globex").CreateAsync("Globex", null);
        await AssertAlreadyExistsAsync(() => Org("globex").CreateAsync("Globex", null));
        Assert.Equal("Acme", (await Org("acme").GetAsync()).Name);
    }

    private static CreateTask Build(string title) => new(title, null, 50, [], [], null, 3, 300, null);

    private ITaskGrain TaskGrain(string id) => _cluster.Grains.GetGrain<ITaskGrain>($"acme/{id}");

    private IOrganisationGrain Org(string id) => _cluster.Grains.GetGrain<IOrganisationGrain>(id);

    private static async Task AssertAlreadyExistsAsync(Func<Task> create)
    {
        var refused = await Assert.ThrowsAsync<OrchestrationException>(create);
        Assert.Equal(ProblemCodes.AlreadyExists, refused.Code);
    }
}
