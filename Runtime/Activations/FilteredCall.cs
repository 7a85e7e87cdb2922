using Orchestration.Runtime.Calls;

namespace Orchestration.Runtime.Activations;

/// <summary>A call to a grain that filters its own calls: the method runs when the filter says so.</summary>
internal sealed class FilteredCall(object instance, IGrainMessage message) : IIncomingGrainCallContext
{
    /// <summary>The method's own task, whose result the caller gets; null until the filter invoked it.</summary>
    public Task? Invocation { get; private set; }

    public string MethodName => message.Method.Name;

    public Task Invoke()
    {
        if (Invocation is not null)
        {
            throw new InvalidOperationException($"A call filter invoked {MethodName} twice.");
        }

        Invocation = message.Method.Invoke(instance, message.Arguments);
        return Invocation;
    }

    /// <summary>Runs the filter around the method; returns the method's own task, which carries its result.</summary>
    public static async Task<Task> InvokeAsync(IIncomingGrainCallFilter filter, object instance, IGrainMessage message)
    {
        var call = new FilteredCall(instance, message);
        await filter.Invoke(call);
        var invocation = call.Invocation ?? throw new InvalidOperationException($"A call filter did not invoke {message.Method.Name}.");
        await invocation; // a filter cannot swallow the method's failure: the caller gets what the method did
        return invocation;
    }
}
