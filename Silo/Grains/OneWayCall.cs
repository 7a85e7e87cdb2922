namespace Orchestration.Silo.Grains;

/// <summary>
/// A grain call sent without waiting for its answer. Grains use it where waiting would make two grains wait on each
/// other, or would put a bookkeeping write on a hot path; the receiver must tolerate losing it (see ADR 6).
/// </summary>
internal static partial class OneWayCall
{
    /// <summary>Lets <paramref name="call"/> run on; a failure is logged with <paramref name="what"/>, never thrown.</summary>
    public static void Forget(Task call, ILogger logger, string what) =>
        _ = call.ContinueWith(
            failed => LogFailed(logger, what, failed.Exception!.GetBaseException().Message),
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A one-way grain call failed ({What}): {Reason}")]
    private static partial void LogFailed(ILogger logger, string what, string reason);
}
