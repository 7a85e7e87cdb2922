using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Runtime.Calls;
using Orchestration.Runtime.Calls.Remote;
using Orchestration.Runtime.Clustering;
using Orchestration.Runtime.Tests.Clustering;
using Orchestration.Runtime.Tests.TestGrains;
using Orchestration.Runtime.Transport;

namespace Orchestration.Runtime.Tests.Calls.Remote;

/// <summary>
/// Routing on a fake network: a call goes to the partition's owner; one that did not run ("not mine", never
/// delivered, no owner yet) goes again once the map has moved on; one that may have run is never sent twice.
/// </summary>
public sealed class RemoteGrainCallerTests
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);
    private static readonly GrainId s_grain = new("counter", "c-1");
    private static readonly int s_partition = ClusterPartitions.Of(s_grain);
    private readonly FakeMembershipTable _table = new(TimeProvider.System);
    private readonly FakeNetwork _network = new();
    private readonly ClusterMap _map;

    public RemoteGrainCallerTests() => _map = new ClusterMap(_table);

    [Fact]
    public async Task Send_OwnerAnswers_CompletesWithItsResultFromTheOwnerOnly()
    {
        await OwnAsync("a");
        _network.Answer = (_, request) => Completed(request.Method.Contains(nameof(IAlarmGrain.GetTimerTicksAsync), StringComparison.Ordinal)
            && request.GrainKey == s_grain.Key ? 42 : -1);

        Assert.Equal(42, await SendAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(["a:1"], _network.Sent);
    }

    [Fact]
    public async Task Send_OwnerSaysNotMine_GoesToTheNewOwnerOnceTheMapMoves()
    {
        await OwnAsync("a");
        _network.Answer = (address, request) =>
        {
            if (address == "a:1")
            {
                _ = MoveAsync("a", "b"); // the hand-over this silo already knew about
                return new RemoteCallResponse(RemoteCallOutcome.NotOwner);
            }

            return Completed(1);
        };

        Assert.Equal(1, await SendAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal("a:1", _network.Sent.First());
        Assert.Equal("b:1", _network.Sent.Last());
    }

    [Fact]
    public async Task Send_NeverDelivered_GoesAgainToTheNextOwner()
    {
        await OwnAsync("a");
        _network.Answer = (address, request) =>
        {
            if (address == "a:1")
            {
                _ = MoveAsync("a", "b");
                throw new SiloUnreachableException(address, mayHaveBeenDelivered: false, "connection refused");
            }

            return Completed(2);
        };

        Assert.Equal(2, await SendAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal("b:1", _network.Sent.Last());
    }

    [Fact]
    public async Task Send_MayHaveBeenDelivered_FailsWithSiloUnavailableAndIsNeverSentTwice()
    {
        await OwnAsync("a");
        _network.Answer = (address, _) => throw new SiloUnreachableException(address, mayHaveBeenDelivered: true, "connection reset");

        var error = await Assert.ThrowsAsync<SiloUnavailableException>(() => SendAsync(TimeSpan.FromSeconds(5)));

        Assert.Equal("a:1", error.Silo);
        Assert.Single(_network.Sent);
    }

    [Fact]
    public async Task Send_NoOwnerBeforeTheDeadline_FailsWithGrainCallTimeoutWithoutSending()
    {
        await _map.RefreshAsync(CancellationToken.None); // nobody holds the partition

        await Assert.ThrowsAsync<GrainCallTimeoutException>(() => SendAsync(TimeSpan.FromMilliseconds(300)));

        Assert.Empty(_network.Sent);
    }

    [Fact]
    public async Task Send_OwnerIsThisSilo_WaitsForTheHandOverInsteadOfCallingItself()
    {
        await OwnAsync("self");
        _network.Answer = (_, _) => Completed(3);

        var call = SendAsync(TimeSpan.FromSeconds(5), selfAddress: "self:1");
        await Task.Delay(200);
        Assert.Empty(_network.Sent);
        await MoveAsync("self", "b");

        Assert.Equal(3, await call);
        Assert.Equal(["b:1"], _network.Sent);
    }

    [Fact]
    public async Task Send_ThisSiloTakesThePartitionOverWhileTheCallWaits_RunsItHere()
    {
        await OwnAsync("self");
        var servesHere = false;
        var message = NewMessage();
        new RemoteGrainCaller(_network, _map, s_json, TimeProvider.System, TimeSpan.FromSeconds(5), "self:1", (_, call) =>
        {
            if (Volatile.Read(ref servesHere))
            {
                call.TakeResult(Task.FromResult(9));
                call.Complete();
            }

            return Volatile.Read(ref servesHere);
        }).Send(s_grain, message);

        await Task.Delay(200);
        Volatile.Write(ref servesHere, true);

        Assert.Equal(9, await message.Task);
        Assert.Empty(_network.Sent);
    }

    [Fact]
    public async Task Send_GrainThrew_CallerGetsTheSameExceptionType()
    {
        await OwnAsync("a");
        _network.Answer = (_, _) => RemoteExceptions.Describe(new InvalidOperationException("refused"), s_json);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => SendAsync(TimeSpan.FromSeconds(5)));

        Assert.Equal("refused", error.Message);
    }

    [Fact]
    public async Task Send_OverTheTransport_AnswerIsReadOnTheReadLoopButTheCallersContinuationRunsElsewhere()
    {
        // One connection, so both calls' answers come through the same read loop.
        await using var server = await SiloTransportServer.StartAsync(
            IPAddress.Loopback, 0, (_, _) => ValueTask.FromResult<ReadOnlyMemory<byte>>(RemoteCallCodec.WriteCompleted(7, typeof(int), s_json)),
            NullLogger.Instance);
        await using var client = new SiloTransportClient(NullLogger.Instance, options: new SiloTransportOptions { ConnectionsPerAddress = 1 });
        await OwnAsync("a", server.Address);
        var caller = new RemoteGrainCaller(client, _map, s_json, TimeProvider.System, TimeSpan.FromSeconds(30), null, (_, _) => false);

        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        // The continuation is attached before the call is sent: attached to a call already answered, it would run inline
        // on this thread and block the test itself (a hang dump showed exactly that). ExecuteSynchronously: had the answer
        // completed the call's task inline, this would block the read loop itself. Bounded, and released on every way out
        // of the test, so a continuation that blocked the read loop cannot hold it past the test.
        var first = NewMessage();
        var blocked = first.Task.ContinueWith(_ =>
        {
            entered.TrySetResult();
            release.Wait(TimeSpan.FromMinutes(1));
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        caller.Send(s_grain, first);
        try
        {
            await entered.Task.WaitAsync(TimeSpan.FromSeconds(10)); // the first call's continuation ran (and now blocks its thread)
            Assert.Equal(7, await Send(caller).WaitAsync(TimeSpan.FromSeconds(10)));
        }
        finally
        {
            release.Set();
        }

        await blocked;
        Assert.Equal(1, server.AcceptedConnections);
    }

    private static Task<int> Send(RemoteGrainCaller caller)
    {
        var message = NewMessage();
        caller.Send(s_grain, message);
        return message.Task;
    }

    private static GrainMessage<int> NewMessage() =>
        new(GrainMethod.ForInterfaceMethod(typeof(IAlarmGrain).GetMethod(nameof(IAlarmGrain.GetTimerTicksAsync))!), [], TimeProvider.System.GetTimestamp());

    private static RemoteCallResponse Completed(int value) =>
        new(RemoteCallOutcome.Completed, JsonSerializer.SerializeToElement(value, s_json));

    private Task<int> SendAsync(TimeSpan responseTimeout, string? selfAddress = null)
    {
        var message = NewMessage();
        new RemoteGrainCaller(_network, _map, s_json, TimeProvider.System, responseTimeout, selfAddress, (_, _) => false).Send(s_grain, message);
        return message.Task;
    }

    private readonly ConcurrentDictionary<string, MembershipEntry> _silos = new();

    private async Task OwnAsync(string silo, string? address = null)
    {
        var entry = await JoinAsync(silo, address);
        Assert.Single(await _table.AcquireAsync(entry, [s_partition], TimeSpan.FromMinutes(1), CancellationToken.None));
        await _map.RefreshAsync(CancellationToken.None);
    }

    private async Task MoveAsync(string from, string to)
    {
        await _table.ReleaseAsync(_silos[from], [s_partition], CancellationToken.None);
        var entry = await JoinAsync(to);
        Assert.Single(await _table.AcquireAsync(entry, [s_partition], TimeSpan.FromMinutes(1), CancellationToken.None));
    }

    private async Task<MembershipEntry> JoinAsync(string silo, string? address = null)
    {
        if (!_silos.TryGetValue(silo, out var entry))
        {
            entry = await _table.JoinAsync(silo, address ?? $"{silo}:1", CancellationToken.None);
            _silos[silo] = entry;
        }

        return entry;
    }

    private sealed class FakeNetwork : ISiloTransport
    {
        public Func<string, RemoteCallRequest, RemoteCallResponse> Answer { get; set; } =
            (_, _) => throw new InvalidOperationException("no answer set");

        public ConcurrentQueue<string> Sent { get; } = new();

        public void Send(string address, ReadOnlyMemory<byte> request, TimeSpan timeout, IAnswerReceiver receiver)
        {
            Sent.Enqueue(address);
            var call = RemoteCallCodec.ReadRequest(request.Span, new RemoteCallCodecTests.Names(null), s_json);
            RemoteCallResponse response;
            try
            {
                response = Answer(address, call);
            }
            catch (Exception exception)
            {
                receiver.OnFailure(exception);
                return;
            }

            receiver.OnAnswer(JsonSerializer.SerializeToUtf8Bytes(response, RemoteCallJsonContext.Default.RemoteCallResponse));
        }
    }
}
