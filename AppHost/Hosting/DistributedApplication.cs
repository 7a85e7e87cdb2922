namespace Orchestration.AppHost.Hosting;

/// <summary>
/// The app model, after Aspire's: resources are declared on a builder, then run together as child processes that stop
/// when the AppHost stops.
/// </summary>
internal sealed class DistributedApplication(IReadOnlyList<ProjectResource> resources)
{
    public static DistributedApplicationBuilder CreateBuilder(string[] args) => new(args);

    /// <summary>Starts every resource, reports where it answers, and stops them all on Ctrl+C or SIGTERM.</summary>
    public async Task RunAsync()
    {
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, eventArgs) =>
        {
            eventArgs.Cancel = true;
            stop.Cancel();
        };
        using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM,
            context =>
            {
                context.Cancel = true;
                stop.Cancel();
            });

        var processes = new List<ResourceProcess>();
        try
        {
            foreach (var resource in resources)
            {
                processes.Add(ResourceProcess.Start(resource));
            }

            await Task.WhenAll(processes.Select(process => process.WaitUntilHealthyAsync(stop.Token)));
            foreach (var resource in resources)
            {
                Console.WriteLine($"[apphost] {resource.Name} is healthy at {resource.Url} (health: {resource.Url}/health, cluster: {resource.Url}/api/v1/cluster)");
            }

            Console.WriteLine("[apphost] Press Ctrl+C to stop.");
            await Task.WhenAny(processes.Select(process => process.Exited).Append(Task.Delay(Timeout.Infinite, stop.Token)))
                .ContinueWith(static _ => { }, TaskScheduler.Default);
        }
        finally
        {
            Console.WriteLine("[apphost] Stopping.");
            await Task.WhenAll(processes.Select(process => process.StopAsync(TimeSpan.FromSeconds(10))));
        }
    }
}
