namespace Orchestration.Runtime.Tests.TestGrains;

public interface IFaultyGrain : IGrainWithStringKey
{
    Task ThrowAfterAwaitAsync(string message);

    Task<int> ThrowSynchronously(string message);

    /// <summary>Does not answer until <see cref="ReleaseHangingAsync"/>.</summary>
    Task HangAsync();

    [AlwaysInterleave]
    Task ReleaseHangingAsync();

    Task<string> EchoAsync(string value);
}

public sealed class FaultyGrain : Grain, IFaultyGrain
{
    private readonly TaskCompletionSource _release = new();

    public async Task ThrowAfterAwaitAsync(string message)
    {
        await Task.Yield();
        throw new InvalidOperationException(message);
    }

    public Task<int> ThrowSynchronously(string message) => throw new ArgumentOutOfRangeException(nameof(message), message);

    public Task HangAsync() => _release.Task;

    public Task ReleaseHangingAsync()
    {
        _release.TrySetResult();
        return Task.CompletedTask;
    }

    public Task<string> EchoAsync(string value) => Task.FromResult(value);
}

public interface IFailingActivationGrain : IGrainWithStringKey
{
    Task PingAsync();
}

public sealed class FailingActivationGrain : Grain, IFailingActivationGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken) =>
        throw new InvalidDataException($"cannot activate {GetPrimaryKeyString()}");

    public Task PingAsync() => Task.CompletedTask;
}
