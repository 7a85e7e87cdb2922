using Microsoft.Extensions.DependencyInjection;
using Orchestration.Grains.Idempotency;
using Orchestration.Runtime;
using Orchestration.Testing;

namespace Orchestration.Api.Tests.Http;

/// <summary>The idempotency record's clock: in flight until a deadline, then replayed for the retention, then gone.</summary>
public sealed class IdempotencyExpiryTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _time = new();
    private readonly ApiStorage _storage = new ApiStorage.Sqlite();
    private ApiFactory _factory = null!;

    public Task InitializeAsync()
    {
        _factory = ApiFactory.Create(_storage.Settings, timeProvider: _time);
        _ = _factory.Services;
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _factory.DisposeAsync();
        _storage.Dispose();
    }

    [Fact]
    public async Task BeginAsync_AfterRetention_StartsAfresh()
    {
        var grain = CreateSut("k-1");
        var run = await grain.BeginAsync(Begin("hash-a"));
        await grain.CompleteAsync(run.RunId!, new IdempotentResponse(201, "application/json", null, [1, 2, 3]));

        _time.Advance(TimeSpan.FromHours(23));
        var replay = await grain.BeginAsync(Begin("hash-a"));
        var mismatch = await grain.BeginAsync(Begin("hash-b"));
        _time.Advance(TimeSpan.FromHours(2));
        var fresh = await grain.BeginAsync(Begin("hash-b"));

        Assert.Equal(IdempotencyOutcome.Completed, replay.Outcome);
        Assert.Equal([1, 2, 3], replay.Response!.Body);
        Assert.Equal(IdempotencyOutcome.Mismatch, mismatch.Outcome);
        Assert.Equal(IdempotencyOutcome.Started, fresh.Outcome);
    }

    [Fact]
    public async Task BeginAsync_InFlightPastDeadline_FreesTheKey()
    {
        var grain = CreateSut("k-2");
        await grain.BeginAsync(Begin("hash-a"));

        var during = await grain.BeginAsync(Begin("hash-a"));
        _time.Advance(TimeSpan.FromMinutes(3));
        var after = await grain.BeginAsync(Begin("hash-a"));

        Assert.Equal(IdempotencyOutcome.InFlight, during.Outcome);
        Assert.Equal(IdempotencyOutcome.Started, after.Outcome);
    }

    [Fact]
    public async Task BeginAsync_RunAgainAfterAnUnansweredRun_ReservesThatRunsId()
    {
        var grain = CreateSut("k-4");
        var first = await grain.BeginAsync(Begin("hash-a") with { ProposedId = "id-1" });
        _time.Advance(TimeSpan.FromMinutes(3));
        var rerun = await grain.BeginAsync(Begin("hash-a") with { ProposedId = "id-2" });
        _time.Advance(TimeSpan.FromMinutes(3));
        var otherBody = await grain.BeginAsync(Begin("hash-b") with { ProposedId = "id-3" });

        Assert.Equal(("id-1", IdempotencyOutcome.Started), (first.ReservedId, first.Outcome));
        Assert.Equal(("id-1", IdempotencyOutcome.Started), (rerun.ReservedId, rerun.Outcome));
        Assert.Equal(("id-3", IdempotencyOutcome.Started), (otherBody.ReservedId, otherBody.Outcome));
    }

    [Fact]
    public async Task CompleteAsync_OfARunSupersededByARerun_IsIgnored_TheRerunsAnswerIsReplayed()
    {
        var grain = CreateSut("k-6");
        var slow = await grain.BeginAsync(Begin("hash-a"));
        _time.Advance(TimeSpan.FromMinutes(3));
        var rerun = await grain.BeginAsync(Begin("hash-a"));

        await grain.CompleteAsync(slow.RunId!, new IdempotentResponse(201, "application/json", null, [1]));
        var stillInFlight = await grain.BeginAsync(Begin("hash-a"));
        await grain.CompleteAsync(rerun.RunId!, new IdempotentResponse(201, "application/json", null, [2]));
        var replay = await grain.BeginAsync(Begin("hash-a"));

        Assert.True(rerun.IsRerun);
        Assert.NotEqual(slow.RunId, rerun.RunId);
        Assert.Equal(IdempotencyOutcome.InFlight, stillInFlight.Outcome);
        Assert.Equal(IdempotencyOutcome.Completed, replay.Outcome);
        Assert.Equal([2], replay.Response!.Body);
    }

    [Fact]
    public async Task CompleteAsync_ByAnApiOfThePreviousRelease_NamesTheFirstRunByItsBodyHash()
    {
        // That release completed records with the request's hash; in a rolling upgrade it still talks to new silos.
        var grain = CreateSut("k-7");
        await grain.BeginAsync(Begin("hash-a"));

        await grain.CompleteAsync("hash-a", new IdempotentResponse(201, "application/json", null, [3]));
        var replay = await grain.BeginAsync(Begin("hash-a"));

        Assert.Equal(IdempotencyOutcome.Completed, replay.Outcome);
        Assert.Equal([3], replay.Response!.Body);
    }

    [Fact]
    public async Task BeginAsync_AfterAnAnsweredRecordsRetention_ReservesANewId()
    {
        var grain = CreateSut("k-5");
        var run = await grain.BeginAsync(Begin("hash-a") with { ProposedId = "id-1" });
        await grain.CompleteAsync(run.RunId!, new IdempotentResponse(201, "application/json", null, [1]));
        _time.Advance(TimeSpan.FromHours(25));

        var fresh = await grain.BeginAsync(Begin("hash-a") with { ProposedId = "id-2" });

        Assert.Equal(("id-2", IdempotencyOutcome.Started), (fresh.ReservedId, fresh.Outcome));
    }

    [Fact]
    public async Task BeginAsync_RecordMadeWithTheEarlierHashForm_IsReplayedToTheSameBody()
    {
        var grain = CreateSut("k-3");
        var run = await grain.BeginAsync(Begin("earlier-form"));
        await grain.CompleteAsync(run.RunId!, new IdempotentResponse(201, "application/json", null, [7]));

        var replay = await grain.BeginAsync(Begin("new-form") with { EarlierFormHash = "earlier-form" });
        var other = await grain.BeginAsync(Begin("new-form") with { EarlierFormHash = "other-body" });

        Assert.Equal(IdempotencyOutcome.Completed, replay.Outcome);
        Assert.Equal([7], replay.Response!.Body);
        Assert.Equal(IdempotencyOutcome.Mismatch, other.Outcome);
    }

    [Fact]
    public void HashWithNumbersAsWritten_IsTheEarlierReleasesHash()
    {
        // SHA-256 of {"a":"x","b":2.0}: members sorted, no whitespace, the number as written, as the earlier release hashed.
        var body = "{ \"b\": 2.0, \"a\": \"x\" }"u8.ToArray();

        Assert.Equal("adbe0031058f91ba98e3a9b21f60656b4b5a4ea4c3b1258b3bbfdc351bbd1829", CanonicalJson.HashWithNumbersAsWritten(body));
        Assert.NotEqual(CanonicalJson.HashWithNumbersAsWritten(body), CanonicalJson.Hash(body));
    }

    private IIdempotencyGrain CreateSut(string key) => _factory.Services.GetRequiredService<IGrainFactory>().GetGrain<IIdempotencyGrain>(key);

    private static IdempotencyBegin Begin(string hash) => new(hash, TimeSpan.FromMinutes(2), TimeSpan.FromHours(24));
}
