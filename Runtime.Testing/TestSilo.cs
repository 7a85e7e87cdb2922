using Microsoft.Extensions.DependencyInjection;

namespace Orchestration.Runtime.Testing;

/// <summary>One silo of a <see cref="TestCluster"/>.</summary>
public sealed class TestSilo
{
    internal TestSilo(ServiceProvider services, SiloRuntime runtime)
    {
        Services = services;
        Runtime = runtime;
    }

    /// <summary>The silo's services (resolve <see cref="Streams.IStreamLog"/>, <see cref="Streams.IStreamProvider"/>, …).</summary>
    public ServiceProvider Services { get; }

    /// <summary>The silo's id.</summary>
    public string SiloId => Runtime.Options.SiloId;

    /// <summary>A grain factory whose calls start on this silo.</summary>
    public IGrainFactory GrainFactory => Runtime.GrainFactory;

    /// <summary>Live activations on this silo.</summary>
    public int ActivationCount => Runtime.Directory.Count;

    /// <summary>Whether the silo has been stopped.</summary>
    public bool IsStopped => Runtime.IsStopped;

    internal SiloRuntime Runtime { get; }

    /// <summary>
    /// Completes when every reminder tick started so far has finished (its grain call, writes and rescheduling), so a test
    /// that moved a fake clock can assert what the ticks did.
    /// </summary>
    public Task WhenRemindersIdleAsync() => Runtime.Reminders.WhenIdleAsync();
}
