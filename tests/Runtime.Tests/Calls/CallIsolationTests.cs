using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.Persistence;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Calls;

/// <summary>In-process calls isolate caller and grain as Orleans does: mutable arguments and results are deep copies.</summary>
public sealed class CallIsolationTests : IAsyncLifetime
{
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestClusterFactory.StartAsync(new GrainProbe());

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Call_CallerMutatesTheReturnedObject_GrainStateIsUnchanged()
    {
        var grain = _cluster.GrainFactory.GetGrain<IBasketGrain>("org/returned");
        await grain.AddAsync(new Basket { Items = ["apple"] });

        var returned = await grain.GetAsync();
        returned.Items.Add("smuggled in by the caller");

        Assert.Equal(["apple"], (await grain.GetAsync()).Items);
    }

    [Fact]
    public async Task Call_GrainMutatesItsArgument_CallersObjectIsUnchanged()
    {
        var grain = _cluster.GrainFactory.GetGrain<IBasketGrain>("org/argument");
        var mine = new Basket { Items = ["pear"] };

        await grain.AddAsync(mine);
        mine.Items.Add("changed by the caller afterwards");

        Assert.Equal(["pear"], mine.Items.Take(1));
        Assert.DoesNotContain("added by the grain", mine.Items);
        Assert.Equal(["pear"], (await grain.GetAsync()).Items);
    }

    [Fact]
    public async Task Call_ResultDeclaredAsObject_IsStillCopied()
    {
        var grain = _cluster.GrainFactory.GetGrain<IEdgeCaseGrain>("org/object");

        var returned = (Basket)await grain.GetBasketAsObjectAsync();
        returned.Items.Add("smuggled in by the caller");

        Assert.Equal(0, await grain.CountItemsAsync());
    }

    [Fact]
    public async Task Call_ResultThatCannotBeCopied_FailsTheCallerWithTheReason()
    {
        var grain = _cluster.GrainFactory.GetGrain<IEdgeCaseGrain>("org/grid");

        var exception = await Assert.ThrowsAsync<NotSupportedException>(() => grain.GetGridAsync().WaitAsync(TimeSpan.FromSeconds(20)));

        Assert.Contains("array", exception.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, await grain.CountItemsAsync()); // the activation is still serving calls
    }

    [Fact]
    public async Task Call_ImmutableRecord_PassesTheSameInstanceWithoutCopying()
    {
        var grain = _cluster.GrainFactory.GetGrain<IBasketGrain>("org/immutable");

        var label = await grain.GetLabelAsync();

        Assert.True(await grain.IsStoredLabelAsync(label));
    }

    [Fact]
    public async Task Call_AnotherCallRunsWhileItsResultWaitsForTheCommit_CallerGetsTheResultAsReturned()
    {
        // The commit's await lets the reentrant grain's next call run; the result must be the object as the method
        // returned it, not as that call left it.
        var storage = new GatedStorage();
        await using var cluster = await TestClusterFactory.StartAsync(new GrainProbe(), builder => builder.UseStorageInstance(storage));
        var grain = cluster.GrainFactory.GetGrain<IOutboxGrain>("org/result-before-commit");

        var pending = grain.RaiseAndReturnBasketAsync("its event");
        await storage.FirstCommitStarted.WaitAsync(TimeSpan.FromSeconds(20));
        await grain.AddToBasketAsync("added while the first call committed").WaitAsync(TimeSpan.FromSeconds(20));
        storage.Open();

        Assert.Empty((await pending.WaitAsync(TimeSpan.FromSeconds(20))).Items);
    }
}
