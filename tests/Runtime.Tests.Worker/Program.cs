using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Testing;
using Orchestration.Runtime.Tests.Worker;

// Usage: worker <write|publish> <sqlite|postgres> <path or connection string>
// write:   32 concurrent writers update grains ledger-0..31 forever; prints "ack <key> <value>" after each acknowledged write.
// publish: publishes events 1, 2, 3, … on stream cross/worker; prints "published <n>" after each; stops when stdin closes.
var (mode, provider, target) = (args[0], args[1], args[2]);
await using var cluster = await TestCluster.StartAsync(builder =>
{
    builder.AddGrains(typeof(LedgerGrain).Assembly);
    if (provider == "sqlite")
    {
        builder.UseSqliteStorage(target);
    }
    else
    {
        builder.UsePostgresStorage(target);
    }
});

var output = Console.Out;
var gate = new Lock();
Console.WriteLine("ready");

if (mode == "write")
{
    await Task.WhenAll(Enumerable.Range(0, 32).Select(writer => Task.Run(async () =>
    {
        var ledger = cluster.GrainFactory.GetGrain<ILedgerGrain>($"ledger-{writer}");
        for (long value = 1; ; value++)
        {
            await ledger.WriteAsync(value);
            lock (gate)
            {
                output.WriteLine($"ack ledger-{writer} {value}");
                output.Flush();
            }
        }
    })));
}
else
{
    var stream = cluster.Silos[0].Services.GetService(typeof(IStreamProvider)) is IStreamProvider streams
        ? streams.GetStream<CrossProcessEvent>(new StreamId("cross", "worker"))
        : throw new InvalidOperationException("No stream provider.");
    var stdinClosed = Task.Run(() => Console.In.ReadToEnd());
    for (var n = 1; !stdinClosed.IsCompleted; n++)
    {
        await stream.OnNextAsync(new CrossProcessEvent(n));
        Console.WriteLine($"published {n}");
        await Task.WhenAny(stdinClosed, Task.Delay(20));
    }
}
