using Orchestration.Runtime.Timers;

namespace Orchestration.Runtime.Tests.TestGrains;

public interface IGatedTickGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts an interleaving timer (due in 1 s, then every minute). Its first tick asks for the next tick at once
    /// (<c>Change(Zero, …)</c>) and then waits until the probe records <c>open:{key}</c>; each tick records
    /// <c>gated-tick:{key}:{n}</c> as it starts.
    /// </summary>
    Task StartTimerAsync();

    /// <summary>A call that interleaves with the waiting tick: it runs after anything queued before it has started.</summary>
    [AlwaysInterleave]
    Task PingAsync();
}

public sealed class GatedTickGrain(GrainProbe probe) : Grain, IGatedTickGrain
{
    private IGrainTimer? _timer;
    private int _ticks;

    public Task StartTimerAsync()
    {
        _timer = RegisterGrainTimer(async _ =>
        {
            var tick = ++_ticks;
            probe.Record($"gated-tick:{GetPrimaryKeyString()}:{tick}");
            if (tick == 1)
            {
                _timer!.Change(TimeSpan.Zero, TimeSpan.FromMinutes(1));
                await probe.WaitForAsync($"open:{GetPrimaryKeyString()}");
            }
        }, new GrainTimerCreationOptions { DueTime = TimeSpan.FromSeconds(1), Period = TimeSpan.FromMinutes(1), Interleave = true });
        return Task.CompletedTask;
    }

    public Task PingAsync() => Task.CompletedTask;
}
