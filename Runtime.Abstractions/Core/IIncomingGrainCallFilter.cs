namespace Orchestration.Runtime;

/// <summary>
/// Implemented by a grain class, runs every call made to that grain (reminder ticks included, timer ticks not) as Orleans'
/// grain-level incoming call filters do: inside the call's turn, around the method, so it can act on how the call ended.
/// </summary>
public interface IIncomingGrainCallFilter
{
    /// <summary>Must call <see cref="IIncomingGrainCallContext.Invoke"/> once; the call's result is that of the method.</summary>
    Task Invoke(IIncomingGrainCallContext context);
}

/// <summary>The call a filter wraps.</summary>
public interface IIncomingGrainCallContext
{
    /// <summary><c>Interface.Method</c>, as traces and metrics name it.</summary>
    string MethodName { get; }

    /// <summary>Runs the grain's method.</summary>
    Task Invoke();
}
