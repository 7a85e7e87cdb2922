using System.Collections.Concurrent;
using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Timers;

namespace Orchestration.Runtime.Tests.TestGrains;

/// <summary>Counts how many pieces of one activation's code run at the same moment; anything above 1 is a bug.</summary>
public sealed class OverlapMeter
{
    private int _inside;
    private int _max;

    public int MaxConcurrency => Volatile.Read(ref _max);

    /// <summary>Runs a short piece of busy code and records the overlap seen while it ran.</summary>
    public void Run()
    {
        var inside = Interlocked.Increment(ref _inside);
        InterlockedMax(ref _max, inside);
        Thread.SpinWait(2_000); // widen the window in which parallel execution would be seen
        Interlocked.Decrement(ref _inside);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current && Interlocked.CompareExchange(ref target, value, current) is var seen && seen != current)
        {
            current = seen;
        }
    }
}

public interface IConcurrencyProbeGrain : IGrainWithStringKey
{
    /// <summary>Runs code between <paramref name="yields"/> awaits of Task.Yield while a 10 ms interleaving timer ticks.</summary>
    Task<int> RunWithInterleavingTimerAsync(int yields);

    /// <summary>Starts background work that keeps running code between awaits, and returns at once.</summary>
    Task StartFireAndForgetAsync(int yields);

    /// <summary>A short call that runs code once.</summary>
    Task TouchAsync();

    /// <summary>Completes when the fire-and-forget work has finished.</summary>
    [AlwaysInterleave]
    Task WaitForBackgroundAsync();

    [AlwaysInterleave]
    Task<int> GetMaxConcurrencyAsync();
}

public sealed class ConcurrencyProbeGrain : Grain, IConcurrencyProbeGrain
{
    private readonly OverlapMeter _meter = new();
    private readonly TaskCompletionSource _background = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task<int> RunWithInterleavingTimerAsync(int yields)
    {
        var ticks = 0;
        using var timer = RegisterGrainTimer(_ =>
        {
            ticks++;
            _meter.Run();
            return Task.CompletedTask;
        }, new GrainTimerCreationOptions { DueTime = TimeSpan.FromMilliseconds(10), Period = TimeSpan.FromMilliseconds(10), Interleave = true });

        for (var i = 0; i < yields || ticks < 3; i++)
        {
            _meter.Run();
            await Task.Yield();
        }

        return ticks;
    }

    public Task StartFireAndForgetAsync(int yields)
    {
        _ = BackgroundAsync(yields);
        return Task.CompletedTask;
    }

    private async Task BackgroundAsync(int yields)
    {
        for (var i = 0; i < yields; i++)
        {
            _meter.Run();
            await Task.Yield();
        }

        _background.TrySetResult();
    }

    public Task TouchAsync()
    {
        _meter.Run();
        return Task.CompletedTask;
    }

    public Task WaitForBackgroundAsync() => _background.Task;

    public Task<int> GetMaxConcurrencyAsync() => Task.FromResult(_meter.MaxConcurrency);
}

public interface IPeerGrain : IGrainWithStringKey
{
    Task PingAsync(string from);
}

/// <summary>On activation, does a little work and then calls its peer without awaiting: the shape that deadlocked activation.</summary>
public sealed class PeerGrain(GrainProbe probe) : Grain, IPeerGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var until = System.Diagnostics.Stopwatch.GetTimestamp() + System.Diagnostics.Stopwatch.Frequency / 20_000; // ~50 µs
        while (System.Diagnostics.Stopwatch.GetTimestamp() < until)
        {
            Thread.SpinWait(10);
        }

        var key = GetPrimaryKeyString();
        var peer = key.EndsWith("/a", StringComparison.Ordinal) ? key[..^2] + "/b" : key[..^2] + "/a";
        _ = GrainFactory.GetGrain<IPeerGrain>(peer).PingAsync(key);
        return Task.CompletedTask;
    }

    public Task PingAsync(string from)
    {
        probe.Record($"ping:{GetPrimaryKeyString()}:{from}");
        return Task.CompletedTask;
    }
}

public sealed record OutboxItem(string Text) : IStreamEvent
{
    public string EventType => "outbox.item";
}

public interface IOutboxGrain : IGrainWithStringKey
{
    /// <summary>Raises an event, waits for the gate, then fails: its event must never be published.</summary>
    Task RaiseWaitThenFailAsync(string text);

    /// <summary>Raises an event and completes: committed at the end of this call, alone.</summary>
    Task RaiseAsync(string text);

    Task OpenGateAsync();

    /// <summary>Completes once a call is waiting at the gate.</summary>
    Task WaitUntilSomeoneWaitsAsync();

    /// <summary>Raises an event and returns the grain's own basket: the call's end-of-call commit comes after its result.</summary>
    Task<Basket> RaiseAndReturnBasketAsync(string text);

    /// <summary>Adds to the grain's basket; commits nothing, so it runs at once between another call's awaits.</summary>
    Task AddToBasketAsync(string item);
}

[Reentrant]
public sealed class OutboxGrain : Grain, IOutboxGrain
{
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _waiting = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Basket _basket = new();

    public static StreamId StreamFor(string key) => new("outbox", key);

    public async Task RaiseWaitThenFailAsync(string text)
    {
        await GetStream<OutboxItem>(StreamFor(GetPrimaryKeyString())).OnNextAsync(new OutboxItem(text));
        _waiting.TrySetResult();
        await _gate.Task;
        throw new InvalidOperationException("failed after raising an event");
    }

    public Task RaiseAsync(string text) => GetStream<OutboxItem>(StreamFor(GetPrimaryKeyString())).OnNextAsync(new OutboxItem(text));

    public Task OpenGateAsync()
    {
        _gate.TrySetResult();
        return Task.CompletedTask;
    }

    public Task WaitUntilSomeoneWaitsAsync() => _waiting.Task;

    public async Task<Basket> RaiseAndReturnBasketAsync(string text)
    {
        await RaiseAsync(text);
        return _basket;
    }

    public Task AddToBasketAsync(string item)
    {
        _basket.Items.Add(item);
        return Task.CompletedTask;
    }
}

/// <summary>Live activations per key across every silo of a test, and the most ever seen at once.</summary>
public sealed class ActivationCensus
{
    private readonly ConcurrentDictionary<string, int> _live = new();
    private int _maxPerKey;

    public int MaxPerKey => Volatile.Read(ref _maxPerKey);

    public int Live(string key) => _live.GetValueOrDefault(key);

    public void Activated(string key)
    {
        var live = _live.AddOrUpdate(key, 1, (_, count) => count + 1);
        int seen;
        while (live > (seen = Volatile.Read(ref _maxPerKey)) && Interlocked.CompareExchange(ref _maxPerKey, live, seen) != seen)
        {
        }
    }

    public void Deactivated(string key) => _live.AddOrUpdate(key, 0, (_, count) => count - 1);
}

public sealed class TickingCounterState
{
    public int Calls { get; set; }
}

public interface ITickingCounterGrain : IGrainWithStringKey
{
    /// <summary>Starts the timer (if not yet) and counts one call durably.</summary>
    Task<int> IncrementAsync();

    Task<int> GetTimerTicksAsync();
}

/// <summary>A persisted counter with a 10 ms timer; reports its activations to the census.</summary>
public sealed class TickingCounterGrain(ActivationCensus census, [PersistentState("counter")] IPersistentState<TickingCounterState> state)
    : Grain, ITickingCounterGrain
{
    private int _ticks;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        census.Activated(GetPrimaryKeyString());
        RegisterGrainTimer(_ =>
        {
            _ticks++;
            return Task.CompletedTask;
        }, new GrainTimerCreationOptions { DueTime = TimeSpan.FromMilliseconds(10), Period = TimeSpan.FromMilliseconds(10) });
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        census.Deactivated(GetPrimaryKeyString());
        return Task.CompletedTask;
    }

    public async Task<int> IncrementAsync()
    {
        state.State.Calls++;
        await state.WriteStateAsync();
        return state.State.Calls;
    }

    public Task<int> GetTimerTicksAsync() => Task.FromResult(_ticks);
}

public interface ISchedulerProbeGrain : IGrainWithStringKey
{
    /// <summary>The scheduler's id before an await, after it, and inside Task.Factory.StartNew; "Default" for the thread pool.</summary>
    Task<(string BeforeAwait, string AfterAwait, string StartedTask)> GetSchedulersAsync();
}

public sealed class SchedulerProbeGrain : Grain, ISchedulerProbeGrain
{
    public async Task<(string BeforeAwait, string AfterAwait, string StartedTask)> GetSchedulersAsync()
    {
        var before = Describe(TaskScheduler.Current);
        await Task.Delay(1);
        var after = Describe(TaskScheduler.Current);
        var started = await Task.Factory.StartNew(() => Describe(TaskScheduler.Current));
        return (before, after, started);
    }

    private static string Describe(TaskScheduler scheduler) =>
        scheduler == TaskScheduler.Default ? nameof(TaskScheduler.Default) : scheduler.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

public interface IBlockingTimerGrain : IGrainWithStringKey
{
    Task StartTimerAsync(TimeSpan dueTime, TimeSpan period);

    /// <summary>Holds the activation until the probe records <c>open:{key}</c> (see <see cref="OpenGateAsync"/>).</summary>
    Task BlockAsync();

    /// <summary>Opens the gate from inside the grain, as an interleaving call.</summary>
    [AlwaysInterleave]
    Task OpenGateAsync();

    Task PingAsync();
}

/// <summary>A timer that records its ticks, and flags a tick of an instance that was already deactivated.</summary>
public sealed class BlockingTimerGrain(GrainProbe probe) : Grain, IBlockingTimerGrain
{
    private bool _deactivated;
    private int _ticks;

    public Task StartTimerAsync(TimeSpan dueTime, TimeSpan period)
    {
        RegisterGrainTimer(_ =>
        {
            _ticks++;
            probe.Record(_deactivated ? $"stale-tick:{GetPrimaryKeyString()}" : $"tick:{GetPrimaryKeyString()}:{_ticks}");
            return Task.CompletedTask;
        }, new GrainTimerCreationOptions { DueTime = dueTime, Period = period });
        return Task.CompletedTask;
    }

    public async Task BlockAsync()
    {
        probe.Record($"blocked:{GetPrimaryKeyString()}");
        await probe.WaitForAsync($"open:{GetPrimaryKeyString()}");
    }

    public Task OpenGateAsync()
    {
        probe.Record($"open:{GetPrimaryKeyString()}");
        return Task.CompletedTask;
    }

    public Task PingAsync() => Task.CompletedTask;

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _deactivated = true;
        probe.Record($"deactivated:{GetPrimaryKeyString()}");
        return Task.CompletedTask;
    }
}

public interface ITracedGrain : IGrainWithStringKey
{
    /// <summary>Calls <paramref name="next"/>'s <see cref="LeafAsync"/> from inside this call; answers the trace it saw.</summary>
    Task<string?> CallAsync(string next);

    /// <summary>The trace id current in this call's turn.</summary>
    Task<string?> LeafAsync();
}

public sealed class TracedGrain : Grain, ITracedGrain
{
    public Task<string?> CallAsync(string next) => GrainFactory.GetGrain<ITracedGrain>(next).LeafAsync();

    public Task<string?> LeafAsync() => Task.FromResult(System.Diagnostics.Activity.Current?.TraceId.ToHexString());
}

public sealed class Basket
{
    public List<string> Items { get; set; } = [];
}

public sealed record Label(string Text, int Size);

public interface IBasketGrain : IGrainWithStringKey
{
    Task AddAsync(Basket basket);

    Task<Basket> GetAsync();

    Task<Label> GetLabelAsync();

    Task<bool> IsStoredLabelAsync(Label label);
}

/// <summary>Keeps what callers give it and hands out its own objects: isolation must keep both sides apart.</summary>
public sealed class BasketGrain : Grain, IBasketGrain
{
    private readonly Basket _basket = new();
    private readonly Label _label = new("fragile", 12);

    public Task AddAsync(Basket basket)
    {
        _basket.Items.AddRange(basket.Items);
        basket.Items.Add("added by the grain");
        return Task.CompletedTask;
    }

    public Task<Basket> GetAsync() => Task.FromResult(_basket);

    public Task<Label> GetLabelAsync() => Task.FromResult(_label);

    public Task<bool> IsStoredLabelAsync(Label label) => Task.FromResult(ReferenceEquals(label, _label));
}

public sealed class BalanceState
{
    public int Amount { get; set; }
}

public interface IPurseGrain : IGrainWithStringKey
{
    Task<int> GetAmountAsync();
}

/// <summary>Pinned to "wallet": its stored state does not depend on the class name.</summary>
[GrainType("wallet")]
public sealed class PurseGrain([PersistentState("balance")] IPersistentState<BalanceState> balance) : Grain, IPurseGrain
{
    public Task<int> GetAmountAsync() => Task.FromResult(balance.State.Amount);
}

public interface IBadlyNamedGrain : IGrainWithStringKey
{
    Task PingAsync();
}

/// <summary>Not a grain type the registry loads (abstract): its pinned name is invalid.</summary>
[GrainType("Bad Name")]
public abstract class BadlyNamedGrain : Grain, IBadlyNamedGrain
{
    public Task PingAsync() => Task.CompletedTask;
}

public interface IEdgeCaseGrain : IGrainWithStringKey
{
    Task<Basket[,]> GetGridAsync();

    Task<object> GetBasketAsObjectAsync();

    Task<int> CountItemsAsync();

    /// <summary>Starts a 1 s timer whose first tick moves the next one 100 s away.</summary>
    Task StartSelfReschedulingTimerAsync();

    /// <summary>Raises an event and leaves work running that raises another a little later.</summary>
    Task RaiseAndLeaveWorkRunningAsync();

    /// <summary>Raises, and leaves work running that raises once the call's outbox has committed, after <paramref name="yields"/> yields.</summary>
    Task RaiseAndRaiseAgainAfterTheCommitAsync(int yields);
}

public sealed class EdgeCaseGrain(GrainProbe probe) : Grain, IEdgeCaseGrain
{
    private readonly Basket _basket = new();
    private IGrainTimer? _timer;
    private int _ticks;

    public Task<Basket[,]> GetGridAsync() => Task.FromResult(new Basket[1, 1] { { new Basket() } });

    public Task<object> GetBasketAsObjectAsync() => Task.FromResult<object>(_basket);

    public Task<int> CountItemsAsync() => Task.FromResult(_basket.Items.Count);

    public Task StartSelfReschedulingTimerAsync()
    {
        _timer = RegisterGrainTimer(_ =>
        {
            _ticks++;
            probe.Record($"edge-tick:{_ticks}");
            if (_ticks == 1)
            {
                _timer!.Change(TimeSpan.FromSeconds(100), TimeSpan.FromSeconds(1));
            }

            return Task.CompletedTask;
        }, new GrainTimerCreationOptions { DueTime = TimeSpan.FromSeconds(1), Period = TimeSpan.FromSeconds(1) });
        return Task.CompletedTask;
    }

    public async Task RaiseAndLeaveWorkRunningAsync()
    {
        _ = RaiseLaterAsync();
        await GetStream<OutboxItem>(OutboxGrain.StreamFor(GetPrimaryKeyString())).OnNextAsync(new OutboxItem("from the call"));
    }

    public async Task RaiseAndRaiseAgainAfterTheCommitAsync(int yields)
    {
        _ = RaiseAfterTheCommitAsync(yields);
        await GetStream<OutboxItem>(OutboxGrain.StreamFor(GetPrimaryKeyString())).OnNextAsync(new OutboxItem("from the call"));
    }

    private async Task RaiseAfterTheCommitAsync(int yields)
    {
        await probe.Signal("outbox-committed").Task;
        for (var i = 0; i < yields; i++)
        {
            await Task.Yield();
        }

        await GetStream<OutboxItem>(OutboxGrain.StreamFor(GetPrimaryKeyString())).OnNextAsync(new OutboxItem("from the work it left"));
        probe.Record($"left-work-raised:{GetPrimaryKeyString()}");
    }

    private async Task RaiseLaterAsync()
    {
        await Task.Yield();
        await Task.Yield();
        await GetStream<OutboxItem>(OutboxGrain.StreamFor(GetPrimaryKeyString())).OnNextAsync(new OutboxItem("from the work it left"));
        probe.Record($"left-work-raised:{GetPrimaryKeyString()}");
    }
}

public interface IStubbornGrain : IGrainWithStringKey
{
    Task<string> GetActivationIdAsync();

    Task LeaveAsync();
}

/// <summary>Its OnDeactivateAsync never finishes and ignores its token.</summary>
public sealed class StubbornGrain(GrainProbe probe) : Grain, IStubbornGrain
{
    private readonly string _activationId = Guid.NewGuid().ToString("N");

    public Task<string> GetActivationIdAsync() => Task.FromResult(_activationId);

    public Task LeaveAsync()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        probe.Record($"deactivating:{GetPrimaryKeyString()}");
        return new TaskCompletionSource().Task;
    }
}
