using System.Threading.Channels;
using Orchestration.Bench;
using Orchestration.Runtime.Testing;

namespace Orchestration.Runtime.Bench;

/// <summary>
/// grain.call: non-persisting calls across 1,000 grains from many concurrent callers, against the same request/response
/// pattern over a bare <see cref="Channel{T}"/> per grain (one consumer each), measured in the same run.
/// </summary>
internal static class GrainCallBenchmark
{
    private const int Grains = 1000;
    private const int Callers = 4000;

    public static async Task<Result> RunAsync(Settings settings)
    {
        var baseline = await ChannelRoundTripAsync(settings);

        await using var cluster = await TestCluster.StartAsync(builder => builder.AddGrains(typeof(PingGrain).Assembly).UseMemoryStorage());
        var grains = Enumerable.Range(0, Grains).Select(i => cluster.GrainFactory.GetGrain<IPingGrain>($"ping-{i}")).ToArray();
        await Task.WhenAll(grains.Select(grain => grain.PingAsync(0)));
        var calls = await Measure.ThroughputAsync(Callers, settings, caller => grains[caller % Grains].PingAsync(caller));

        return Result.Compare("grain.call", calls, "calls/s", "channel.roundtrip", baseline);
    }

    private static async Task<double> ChannelRoundTripAsync(Settings settings)
    {
        var channels = Enumerable.Range(0, Grains).Select(_ => Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true })).ToArray();
        var consumers = channels.Select(channel => Task.Run(async () =>
        {
            while (await channel.Reader.WaitToReadAsync())
            {
                while (channel.Reader.TryRead(out var request))
                {
                    request.SetResult(request.Value + 1);
                }
            }
        })).ToArray();

        var roundTrips = await Measure.ThroughputAsync(Callers, settings, caller =>
        {
            var request = new Request(caller);
            channels[caller % Grains].Writer.TryWrite(request);
            return request.Task;
        });

        foreach (var channel in channels)
        {
            channel.Writer.Complete();
        }

        await Task.WhenAll(consumers);
        return roundTrips.PerSecond;
    }

    private sealed class Request(int value) : TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public int Value { get; } = value;
    }
}
