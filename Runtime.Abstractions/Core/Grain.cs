using Orchestration.Runtime.Streams;
using Orchestration.Runtime.Timers;

namespace Orchestration.Runtime;

/// <summary>
/// Base class of every grain implementation. Constructor injection works as usual; state is injected with
/// <see cref="PersistentStateAttribute"/>. The runtime runs one call at a time per activation unless the class is
/// <see cref="ReentrantAttribute">[Reentrant]</see> or the method is <see cref="AlwaysInterleaveAttribute">[AlwaysInterleave]</see>.
/// </summary>
public abstract class Grain
{
#pragma warning disable IDE1006 // a thread-static field: t_ prefix (see .editorconfig)
    [ThreadStatic]
    private static IGrainContext? t_contextUnderConstruction;
#pragma warning restore IDE1006

    /// <summary>Binds the new grain to the activation being created on this thread.</summary>
    protected Grain()
    {
        GrainContext = t_contextUnderConstruction
            ?? throw new InvalidOperationException("Grains are created by the runtime; get one through IGrainFactory.GetGrain.");
    }

    /// <summary>The activation this grain instance belongs to.</summary>
    public IGrainContext GrainContext { get; }

    /// <summary>The grain's id.</summary>
    public GrainId GrainId => GrainContext.GrainId;

    /// <summary>A factory for calling other grains.</summary>
    protected IGrainFactory GrainFactory => GrainContext.GrainFactory;

    /// <summary>The grain's string key.</summary>
    public string GetPrimaryKeyString() => GrainContext.GrainId.Key;

    /// <summary>Called once after the activation's persistent state is read and before its first call. Default: nothing.</summary>
    public virtual Task OnActivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Called once before the activation is discarded (not called when the process dies). Default: nothing.</summary>
    public virtual Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc cref="IGrainContext.DeactivateOnIdle"/>
    protected void DeactivateOnIdle() => GrainContext.DeactivateOnIdle();

    /// <inheritdoc cref="IGrainContext.RegisterGrainTimer"/>
    protected IGrainTimer RegisterGrainTimer(Func<CancellationToken, Task> callback, GrainTimerCreationOptions options)
        => GrainContext.RegisterGrainTimer(callback, options);

    /// <inheritdoc cref="IGrainContext.RegisterOrUpdateReminder"/>
    protected Task RegisterOrUpdateReminder(string reminderName, TimeSpan dueTime, TimeSpan period)
        => GrainContext.RegisterOrUpdateReminder(reminderName, dueTime, period);

    /// <inheritdoc cref="IGrainContext.UnregisterReminder"/>
    protected Task UnregisterReminder(string reminderName) => GrainContext.UnregisterReminder(reminderName);

    /// <inheritdoc cref="IGrainContext.GetStream{T}"/>
    protected IAsyncStream<T> GetStream<T>(StreamId streamId) => GrainContext.GetStream<T>(streamId);

    /// <inheritdoc cref="IGrainContext.Project"/>
    protected void Project(Projections.ProjectionRow row) => GrainContext.Project(row);

    /// <inheritdoc cref="IGrainContext.RemoveProjection"/>
    protected void RemoveProjection(string collection, string tenant, string id) => GrainContext.RemoveProjection(collection, tenant, id);

    /// <summary>Runs <paramref name="create"/> with <paramref name="context"/> as the context every new grain binds to.</summary>
    internal static Grain CreateWithContext(IGrainContext context, Func<Grain> create)
    {
        var previous = t_contextUnderConstruction;
        t_contextUnderConstruction = context;
        try
        {
            return create();
        }
        finally
        {
            t_contextUnderConstruction = previous;
        }
    }
}
