using Orchestration.Runtime.Streams;

namespace Orchestration.Runtime.Tests.TestGrains;

public sealed class ProfileState
{
    public string Name { get; set; } = string.Empty;

    public int Version { get; set; }
}

public sealed record ProfileChanged(string Key, string Name) : IStreamEvent
{
    public string EventType => "profile.changed";
}

public interface IProfileGrain : IGrainWithStringKey
{
    /// <summary>Sets the name, raises <see cref="ProfileChanged"/> and writes state: one commit.</summary>
    Task<string?> RenameAsync(string name);

    /// <summary>Raises an event without writing state: committed alone at the end of the call.</summary>
    Task AnnounceAsync(string name);

    /// <summary>Raises an event, then throws: nothing may be published.</summary>
    Task AnnounceThenFailAsync(string name);

    Task<ProfileState> GetAsync();

    Task<string?> GetEtagAsync();

    Task ClearAsync();
}

public sealed class ProfileGrain([PersistentState("profile")] IPersistentState<ProfileState> profile) : Grain, IProfileGrain
{
    public static StreamId StreamFor(string key) => new("profiles", key);

    public async Task<string?> RenameAsync(string name)
    {
        profile.State.Name = name;
        profile.State.Version++;
        await GetStream<ProfileChanged>(StreamFor(GetPrimaryKeyString())).OnNextAsync(new ProfileChanged(GetPrimaryKeyString(), name));
        await profile.WriteStateAsync();
        return profile.Etag;
    }

    public Task AnnounceAsync(string name) =>
        GetStream<ProfileChanged>(StreamFor(GetPrimaryKeyString())).OnNextAsync(new ProfileChanged(GetPrimaryKeyString(), name));

    public async Task AnnounceThenFailAsync(string name)
    {
        await AnnounceAsync(name);
        throw new InvalidOperationException("failed after raising an event");
    }

    public Task<ProfileState> GetAsync() => Task.FromResult(profile.State);

    public Task<string?> GetEtagAsync() => Task.FromResult(profile.Etag);

    public Task ClearAsync() => profile.ClearStateAsync();
}
