using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Streams;
using Orchestration.Testing;

namespace Orchestration.Runtime.Tests.Projections;

/// <summary>How every storage provider commits and lists projections; one subclass per provider.</summary>
public abstract class ProjectionStoreConformanceTests : IAsyncLifetime
{
    private const string Tasks = "tasks";
    private static readonly GrainStateKey s_key = new("task", "acme/t1", "task");

    private IGrainStorage _storage = null!;
    private ProjectionStore _sut = null!;

    private protected abstract Task<IGrainStorage> CreateStorageAsync();

    public async Task InitializeAsync()
    {
        _storage = await CreateStorageAsync();
        await _storage.InitializeAsync(CancellationToken.None);
        _sut = CreateSut();
    }

    public virtual async Task DisposeAsync() => await _storage.DisposeAsync();

    private ProjectionStore CreateSut() => new(_storage);

    [Fact]
    public async Task Commit_WithState_RowReadsBackWithEveryField()
    {
        var row = Row("acme", "t1", "ready") with { Owner = "agent-7", Group = "wf-1" };

        await CommitAsync(StorageWrite.State(s_key, "{}", 0, [], [ProjectionChange.Set(row)]));

        var stored = await _sut.GetAsync(Tasks, "acme", "t1");
        AssertSameRow(row, stored);
        AssertSameRow(row, Assert.Single((await _sut.QueryAsync(new ProjectionQuery(Tasks, "acme"))).Items));
    }

    [Fact]
    public async Task Commit_Document_ReadsBackByteForByte()
    {
        // What a parsed form would change: spacing, key order, a repeated key, escapes, number spelling.
        const string document = """{ "z":1,  "a":"\u00e9\n", "a":2, "n":1.50E+2 }""";
        var row = Row("acme", "t1") with { Document = document };

        await CommitAsync(StorageWrite.State(s_key, "{}", 0, [], [ProjectionChange.Set(row)]));

        Assert.Equal(document, (await _sut.GetAsync(Tasks, "acme", "t1"))?.Document);
        var listed = Assert.Single((await _sut.QueryAsync(new ProjectionQuery(Tasks, "acme"))).Items);
        Assert.Equal(document, listed.Document);
    }

    [Fact]
    public async Task Commit_StaleWrite_CommitsNoneOfItsProjectionsButTheOthersDo()
    {
        await CommitAsync(StorageWrite.State(s_key, "{}", 0, []));
        var stale = StorageWrite.State(s_key, "{}", 7, [], [ProjectionChange.Set(Row("acme", "stale"))]);
        var fresh = StorageWrite.State(s_key with { GrainKey = "acme/t2" }, "{}", 0, [], [ProjectionChange.Set(Row("acme", "fresh"))]);
        var alone = StorageWrite.OutboxOnly(new CallOutbox([], [ProjectionChange.Set(Row("acme", "alone"))], []));

        await CommitAsync(stale, fresh, alone);

        Assert.True(stale.Conflict);
        Assert.Equal(["alone", "fresh"], await IdsAsync(new ProjectionQuery(Tasks, "acme")));
    }

    [Fact]
    public async Task Commit_Remove_DeletesTheRowAndIgnoresUnknownRows()
    {
        await CommitAsync(Alone(ProjectionChange.Set(Row("acme", "t1")), ProjectionChange.Set(Row("acme", "t2"))));

        await CommitAsync(Alone(ProjectionChange.Remove(Tasks, "acme", "t1"), ProjectionChange.Remove(Tasks, "acme", "never")));

        Assert.Null(await _sut.GetAsync(Tasks, "acme", "t1"));
        Assert.Equal(["t2"], await IdsAsync(new ProjectionQuery(Tasks, "acme")));
    }

    [Fact]
    public async Task Commit_SameRowSetSeveralTimes_LastChangeWinsWithinAWriteAndAcrossABatch()
    {
        await CommitAsync(
            Alone(ProjectionChange.Set(Row("acme", "a", "first")), ProjectionChange.Remove(Tasks, "acme", "a"), ProjectionChange.Set(Row("acme", "a", "last"))),
            Alone(ProjectionChange.Set(Row("acme", "b", "kept"))),
            Alone(ProjectionChange.Set(Row("acme", "c", "early"))),
            Alone(ProjectionChange.Remove(Tasks, "acme", "c")),
            Alone(ProjectionChange.Set(Row("acme", "b", "overwritten-later")), ProjectionChange.Set(Row("acme", "b", "final"))));

        var rows = (await _sut.QueryAsync(new ProjectionQuery(Tasks, "acme"))).Items;

        Assert.Equal([("a", "last"), ("b", "final")], rows.Select(row => (row.Id, row.Status!)));
    }

    [Fact]
    public async Task Query_Filters_ReturnOnlyMatchingRows()
    {
        await CommitAsync(Alone(
            ProjectionChange.Set(Row("acme", "1", "ready") with { Owner = "ann", Group = "g1" }),
            ProjectionChange.Set(Row("acme", "2", "ready") with { Owner = "bob", Group = "g1" }),
            ProjectionChange.Set(Row("acme", "3", "done") with { Owner = "ann", Group = "g2" }),
            ProjectionChange.Set(Row("acme", "4")),
            ProjectionChange.Set(Row("acme", "5", "ready") with { Collection = "agents" })));

        Assert.Equal(["1", "2"], await IdsAsync(new ProjectionQuery(Tasks, "acme") { Status = "ready" }));
        Assert.Equal(["1", "3"], await IdsAsync(new ProjectionQuery(Tasks, "acme") { Owner = "ann" }));
        Assert.Equal(["3"], await IdsAsync(new ProjectionQuery(Tasks, "acme") { Group = "g2" }));
        Assert.Equal(["1"], await IdsAsync(new ProjectionQuery(Tasks, "acme") { Status = "ready", Owner = "ann", Group = "g1" }));
        Assert.Equal(["1", "2", "3", "4"], await IdsAsync(new ProjectionQuery(Tasks, "acme")));
        Assert.Equal(["5"], await IdsAsync(new ProjectionQuery("agents", "acme")));
    }

    [Fact]
    public async Task Query_SevenRowsInPagesOfThree_ThreeExactPagesThenNoCursor()
    {
        await CommitAsync(Alone(Enumerable.Range(1, 7).Select(i => ProjectionChange.Set(Row("acme", $"t{i}"))).ToArray()));
        await CommitAsync(Alone(ProjectionChange.Set(Row("other", "t0"))));

        var first = await _sut.QueryAsync(new ProjectionQuery(Tasks, "acme") { Limit = 3 });
        var second = await _sut.QueryAsync(new ProjectionQuery(Tasks, "acme") { Limit = 3, Cursor = first.NextCursor });
        var third = await _sut.QueryAsync(new ProjectionQuery(Tasks, "acme") { Limit = 3, Cursor = second.NextCursor });

        Assert.Equal(["t1", "t2", "t3"], first.Items.Select(row => row.Id));
        Assert.Equal(["t4", "t5", "t6"], second.Items.Select(row => row.Id));
        Assert.Equal(["t7"], third.Items.Select(row => row.Id));
        Assert.NotNull(first.NextCursor);
        Assert.NotNull(second.NextCursor);
        Assert.Null(third.NextCursor);
    }

    [Fact]
    public async Task Query_WithoutDocuments_SameRowsAndPagesWithEmptyDocuments()
    {
        await CommitAsync(Alone(Enumerable.Range(1, 5).Select(i => ProjectionChange.Set(Row("acme", $"t{i}", i % 2 == 0 ? "ready" : "done") with { Owner = $"o{i}" })).ToArray()));

        var first = await _sut.QueryAsync(new ProjectionQuery(Tasks, "acme") { Limit = 2, IncludeDocuments = false });
        var rest = await _sut.QueryAsync(new ProjectionQuery(Tasks, "acme") { Limit = 2, IncludeDocuments = false, Cursor = first.NextCursor });
        var ready = await _sut.QueryAsync(new ProjectionQuery(Tasks, "acme") { Status = "ready", IncludeDocuments = false });

        Assert.Equal(["t1", "t2"], first.Items.Select(row => row.Id));
        Assert.Equal(["t3", "t4"], rest.Items.Select(row => row.Id));
        Assert.Equal(["t2", "t4"], ready.Items.Select(row => row.Id));
        Assert.All(first.Items.Concat(rest.Items).Concat(ready.Items), row => Assert.Equal(string.Empty, row.Document));
        Assert.Equal(("ready", "o4"), (ready.Items[1].Status, ready.Items[1].Owner));
        var full = await _sut.QueryAsync(new ProjectionQuery(Tasks, "acme") { Limit = 2 });
        Assert.All(full.Items, row => Assert.NotEqual(string.Empty, row.Document));
    }

    [Fact]
    public async Task Query_PageEndsExactlyAtTheLastRow_HasNoCursor()
    {
        await CommitAsync(Alone(ProjectionChange.Set(Row("acme", "a")), ProjectionChange.Set(Row("acme", "b"))));

        var page = await _sut.QueryAsync(new ProjectionQuery(Tasks, "acme") { Limit = 2 });

        Assert.Equal(2, page.Items.Count);
        Assert.Null(page.NextCursor);
    }

    [Fact]
    public async Task Query_OneTenant_NeverSeesAnotherTenantsRows()
    {
        await CommitAsync(Alone(
            ProjectionChange.Set(Row("acme", "shared-id", "acme's")),
            ProjectionChange.Set(Row("globex", "shared-id", "globex's")),
            ProjectionChange.Set(Row("globex", "g1"))));

        var acme = (await _sut.QueryAsync(new ProjectionQuery(Tasks, "acme"))).Items;

        Assert.Equal([("acme", "shared-id", "acme's")], acme.Select(row => (row.Tenant, row.Id, row.Status!)));
        Assert.Null(await _sut.GetAsync(Tasks, "acme", "g1"));
        Assert.Equal("globex's", (await _sut.GetAsync(Tasks, "globex", "shared-id"))!.Status);
    }

    [Fact]
    public async Task Query_NullTenant_ReadsEveryTenantPagingByIdThenTenant()
    {
        await CommitAsync(Alone(
            ProjectionChange.Set(Row("globex", "x")),
            ProjectionChange.Set(Row("acme", "x")),
            ProjectionChange.Set(Row("acme", "a")),
            ProjectionChange.Set(Row("initech", "x"))));

        var seen = new List<(string, string)>();
        string? cursor = null;
        do
        {
            var page = await _sut.QueryAsync(new ProjectionQuery(Tasks, null) { Limit = 1, Cursor = cursor });
            seen.AddRange(page.Items.Select(row => (row.Id, row.Tenant)));
            cursor = page.NextCursor;
        }
        while (cursor is not null && seen.Count < 10);

        Assert.Equal([("a", "acme"), ("x", "acme"), ("x", "globex"), ("x", "initech")], seen);
    }

    [Fact]
    public async Task Query_MixedCaseIds_OrderedOrdinallyAcrossPages()
    {
        string[] ids = ["b", "B", "a", "A", "_x", "aa", "Z", "a-b", "ä", "0"];
        await CommitAsync(Alone(ids.Select(id => ProjectionChange.Set(Row("acme", id))).ToArray()));

        var listed = new List<string>();
        string? cursor = null;
        do
        {
            var page = await _sut.QueryAsync(new ProjectionQuery(Tasks, "acme") { Limit = 3, Cursor = cursor });
            listed.AddRange(page.Items.Select(row => row.Id));
            cursor = page.NextCursor;
        }
        while (cursor is not null && listed.Count < 20);

        Assert.Equal(ids.Order(StringComparer.Ordinal), listed);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1001)]
    public async Task Query_LimitOutOfRange_Throws(int limit) =>
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _sut.QueryAsync(new ProjectionQuery(Tasks, "acme") { Limit = limit }));

    [Fact]
    public async Task ReadTenantEvents_MixedTenants_ReturnsOnlyThatTenantsInOrder()
    {
        await CommitAsync(StorageWrite.EventsOnly([Event("acme/t1", "1"), Event("globex/t1", "2"), Event("acme", "3"), Event("acmeish/t", "4"), Event("acme/t2/sub", "5")]));

        var acme = await _storage.ReadTenantEventsAsync("acme", 0, 100, CancellationToken.None);
        var afterFirst = await _storage.ReadTenantEventsAsync("acme", acme[0].Sequence, 1, CancellationToken.None);

        Assert.Equal(["1", "3", "5"], acme.Select(e => e.Type));
        Assert.Equal([1L, 3, 5], acme.Select(e => e.Sequence));
        Assert.Equal(["3"], afterFirst.Select(e => e.Type));
    }

    private Task CommitAsync(params StorageWrite[] writes) => _storage.CommitAsync(writes, CancellationToken.None);

    private async Task<string[]> IdsAsync(ProjectionQuery query) => (await _sut.QueryAsync(query)).Items.Select(row => row.Id).ToArray();

    private static StorageWrite Alone(params ProjectionChange[] changes) => StorageWrite.OutboxOnly(new CallOutbox([], changes, []));

    private static ProjectionRow Row(string tenant, string id, string? status = null) =>
        new(Tasks, tenant, id, $$"""{"id":"{{id}}","n":[1,2]}""") { Status = status };

    private static EventDraft Event(string key, string type) =>
        new(new StreamId("test", key), type, new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero), "{}");

    /// <summary>Documents too compare exactly: every provider keeps them byte for byte.</summary>
    private static void AssertSameRow(ProjectionRow expected, ProjectionRow? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected, actual);
    }
}

public sealed class MemoryProjectionStoreTests : ProjectionStoreConformanceTests
{
    private protected override Task<IGrainStorage> CreateStorageAsync() => Task.FromResult<IGrainStorage>(new MemoryGrainStorage());
}

public sealed class SqliteProjectionStoreTests : ProjectionStoreConformanceTests
{
    private readonly StorageChoice.Sqlite _file = new();

    private protected override Task<IGrainStorage> CreateStorageAsync() => Task.FromResult<IGrainStorage>(new SqliteGrainStorage(_file.Path, TimeProvider.System));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _file.DisposeAsync();
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresProjectionStoreTests(PostgresServerFixture postgres) : ProjectionStoreConformanceTests
{
    private string _connectionString = null!;

    private protected override async Task<IGrainStorage> CreateStorageAsync()
    {
        _connectionString = await postgres.Server.CreateDatabaseAsync();
        return new PostgresGrainStorage(_connectionString);
    }

    [Fact]
    public async Task Commit_OverlappingProjectionBatchesInOppositeOrdersFromTwoInstances_NeverDeadlock()
    {
        const int Rounds = 10;
        const int Rows = 100;
        await using var first = new PostgresGrainStorage(_connectionString);
        await using var second = new PostgresGrainStorage(_connectionString);
        await first.InitializeAsync(CancellationToken.None);
        await second.InitializeAsync(CancellationToken.None);

        // Even rounds insert new rows, odd rounds update and remove the rows of the round before.
        for (var round = 0; round < Rounds; round++)
        {
            var ids = Enumerable.Range(0, Rows).Select(i => $"r{round - (round % 2)}-{i:D3}").ToArray();
            var remove = round % 2 == 1;
            StorageWrite[] Batch(bool descending) => (descending ? ids.Reverse() : ids)
                .Select(id => StorageWrite.OutboxOnly(new CallOutbox([], [remove && id.EndsWith('0') ? ProjectionChange.Remove("race", "acme", id) : ProjectionChange.Set(new ProjectionRow("race", "acme", id, "{}"))], [])))
                .ToArray();
            var batches = new[] { (first, Batch(false)), (second, Batch(true)), (first, Batch(true)), (second, Batch(false)) };

            await Task.WhenAll(batches.Select(batch => Task.Run(() => batch.Item1.CommitAsync(batch.Item2, CancellationToken.None))));
        }

        var stored = await new ProjectionStore(first).QueryAsync(new ProjectionQuery("race", "acme") { Limit = 1000 });
        Assert.Equal((Rounds / 2) * (Rows - (Rows / 10)), stored.Items.Count);
    }
}
