namespace Orchestration.Runtime.Core;

/// <summary>
/// Sends calls: target + method + arguments. Calls to grains this silo owns go to the local activation; the others
/// go through the cluster router. In-process calls skip serialization.
/// </summary>
internal sealed class GrainCallDispatcher(SiloRuntime runtime)
{
    public Task<TResult> InvokeAsync<TResult>(GrainId target, GrainMethod method, object?[] arguments)
    {
        var message = new GrainMessage<TResult>(method, arguments, runtime.TimeProvider.GetTimestamp());
        Deliver(target, message);
        return message.Task;
    }

    public void Deliver(GrainId target, IGrainMessage message)
    {
        if (runtime.Router is { } router && !router.IsLocal(runtime, target))
        {
            router.Forward(target, message);
            return;
        }

        DeliverLocally(target, message);
    }

    public void DeliverLocally(GrainId target, IGrainMessage message)
    {
        if (runtime.IsStopped)
        {
            message.Fail(new InvalidOperationException($"Silo {runtime.Options.SiloId} has stopped; call to {message.Method.Name} on {target} was not delivered."));
            return;
        }

        ActivationData activation;
        try
        {
            activation = runtime.Directory.GetOrCreate(target);
        }
        catch (ArgumentException exception)
        {
            message.Fail(exception);
            return;
        }

        while (!activation.TryEnqueue(message))
        {
            // It was deactivated between lookup and enqueue: make sure it is gone, then use the next one.
            runtime.Directory.Remove(activation);
            activation = runtime.Directory.GetOrCreate(target);
        }
    }
}
