using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.Persistence;
using Orchestration.Runtime.Tests.TestGrains;

namespace Orchestration.Runtime.Tests.Activations;

/// <summary>A write that failed leaves its activation: whether it stored is unknown, so memory may not be storage.</summary>
public sealed class FailedWriteTests : IAsyncLifetime
{
    private readonly GrainProbe _probe = new();
    private readonly GatedStorage _storage = new();
    private TestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _storage.Open();
        _cluster = await TestClusterFactory.StartAsync(_probe, builder => builder.UseStorageInstance(_storage));
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Write_Fails_TheNextCallSeesWhatStorageHasAndCanWriteAgain()
    {
        var grain = _cluster.GrainFactory.GetGrain<IProfileGrain>("org/profile");
        await grain.RenameAsync("stored");

        _storage.FailNextCommit(new TimeoutException("the commit's outcome is unknown"));
        await Assert.ThrowsAsync<TimeoutException>(() => grain.RenameAsync("never stored"));

        Assert.Equal(("stored", 1), await NameAndVersionAsync(grain));
        await grain.RenameAsync("after");
        Assert.Equal(("after", 2), await NameAndVersionAsync(grain));
    }

    private static async Task<(string, int)> NameAndVersionAsync(IProfileGrain grain)
    {
        var state = await grain.GetAsync();
        return (state.Name, state.Version);
    }
}
