using Orchestration.Runtime.Activations;
using Orchestration.Runtime.Persistence;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Activations;

public sealed class GrainTypeNameTests
{
    [Fact]
    public void ToTypeName_NoAttribute_IsTheClassNameWithoutGrainLowerCased() =>
        Assert.Equal("counter", GrainClassInfo.ToTypeName(typeof(CounterGrain)));

    [Fact]
    public void ToTypeName_GrainTypeAttribute_IsThePinnedName() =>
        Assert.Equal("wallet", GrainClassInfo.ToTypeName(typeof(PurseGrain)));

    [Fact]
    public void ToTypeName_InvalidPinnedName_ThrowsNamingTheClass()
    {
        var exception = Assert.Throws<ArgumentException>(() => GrainClassInfo.ToTypeName(typeof(BadlyNamedGrain)));

        Assert.Contains(nameof(BadlyNamedGrain), exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Activate_ClassRenamedButNamePinned_ReadsStateStoredUnderThePinnedName()
    {
        await using var cluster = await TestClusterFactory.StartAsync(new GrainProbe());
        // State as an earlier class (say "WalletGrain") stored it, before it was renamed PurseGrain.
        var write = StorageWrite.State(new GrainStateKey("wallet", "org/w1", "balance"), """{"amount":42}""", 0, []);
        await cluster.Silos[0].Runtime.Storage.CommitAsync([write], CancellationToken.None);

        Assert.Equal(42, await cluster.GrainFactory.GetGrain<IPurseGrain>("org/w1").GetAmountAsync());
    }
}
