using System.Diagnostics;
using Orchestration.Runtime.Activations;
using Orchestration.Runtime.Calls.Copying;
using Orchestration.Runtime.Clustering;

namespace Orchestration.Runtime.Calls;

/// <summary>
/// Sends calls: target + method + arguments. Calls to grains this silo owns go to the local activation; the others
/// go through the cluster router. In-process calls skip serialization but not isolation: mutable arguments are
/// deep-copied as they are sent.
/// </summary>
internal sealed class GrainCallDispatcher(SiloRuntime runtime)
{
    public Task<TResult> InvokeAsync<TResult>(GrainId target, GrainMethod method, object?[] arguments)
    {
        if (method.CopiesArguments)
        {
            DeepCopier.CopyElements(arguments);
        }

        var message = new GrainMessage<TResult>(method, arguments, runtime.TimeProvider.GetTimestamp(), Activity.Current);
        Deliver(target, message);
        return message.Task;
    }

    public void Deliver(GrainId target, IGrainMessage message)
    {
        // An activation whose lease period still serves takes the call even while its partition is handed over: it
        // finishes its work here (a turn may call a grain it is draining with) and hands on what it has not run.
        if (runtime.Router is { } router && !router.IsLocal(runtime, target)
            && !(runtime.Directory.TryGet(target, out var existing) && existing.IsServingLease)
            && CallersHandedOverLease(target) is null)
        {
            router.Forward(target, message);
            return;
        }

        DeliverLocally(target, message);
    }

    public void DeliverLocally(GrainId target, IGrainMessage message)
    {
        while (true)
        {
            if (!runtime.Directory.TryGet(target, out var activation))
            {
                if (runtime.IsStopped)
                {
                    message.Fail(new InvalidOperationException($"Silo {runtime.Options.SiloId} has stopped; call to {message.Method.Name} on {target} was not delivered."));
                    return;
                }

                if (!runtime.Registry.TryGetClass(target.Type, out var grainClass))
                {
                    message.Fail(new ArgumentException($"No grain class is registered for grain type '{target.Type}' (grain {target})."));
                    return;
                }

                // With leased ownership an activation exists only inside a lease period: without one (the partition
                // moved between the check and here) the call goes to the owner instead of starting an unfenced activation.
                PartitionLease? lease = null;
                var joinsHandOver = false;
                if (runtime.Router is { LeasesOwnership: true } router && (lease = router.LeaseFor(target)) is null)
                {
                    lease = CallersHandedOverLease(target);
                    if (lease is null)
                    {
                        router.Forward(target, message);
                        return;
                    }

                    joinsHandOver = true;
                }

                // May answer with an activation on another silo that still holds the grain; the call waits there and is
                // handed back once that activation has gone.
                activation = runtime.Directory.GetOrAdd(target, grainClass, lease, joinsHandOver);
            }

            if (activation.TryEnqueue(message))
            {
                return;
            }

            // It was deactivated between lookup and enqueue: make sure it is gone, then use the next one.
            activation.Runtime.Directory.Remove(activation);
            Thread.Yield();
        }
    }

    /// <summary>
    /// The lease period of the calling turn's activation when it is being handed over, still serves and covers
    /// <paramref name="target"/>'s partition: such a turn may start an activation in that period. Sent on, its call would
    /// wait for the partition's next owner, which waits for the hand-over, which waits for this very turn (until the
    /// call timed out). The hand-over cannot end while the caller lives, and it deactivates the new activation on its
    /// next look, as every other one of the period.
    /// </summary>
    private static PartitionLease? CallersHandedOverLease(GrainId target) =>
        CallContext.Current is { IsFinished: false, Activation: { Lease: { IsDraining: true } lease } caller }
        && lease.Partition == ClusterPartitions.Of(target) && caller.IsServingLease
            ? lease
            : null;
}
