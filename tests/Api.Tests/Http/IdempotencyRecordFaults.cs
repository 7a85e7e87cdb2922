using Microsoft.Extensions.DependencyInjection;
using Orchestration.Grains.Idempotency;
using Orchestration.Runtime;
using Orchestration.Runtime.Reminders;

namespace Orchestration.Api.Tests.Http;

/// <summary>
/// The Api's grain factory with its idempotency records' recording of answers under a test's control:
/// <paramref name="complete"/> gets the record's key and the real recording, and may fail it, skip it or run it.
/// </summary>
internal sealed class IdempotencyRecordFaults(IGrainFactory inner, Func<string, Func<Task>, Task> complete) : IGrainFactory
{
    /// <summary>Replaces the Api's grain factory with one whose records' recordings go through <paramref name="complete"/>.</summary>
    public static Action<IServiceCollection> Install(Func<string, Func<Task>, Task> complete) => services =>
    {
        var original = services.Last(descriptor => descriptor.ServiceType == typeof(IGrainFactory));
        services.Remove(original);
        services.AddSingleton<IGrainFactory>(provider => new IdempotencyRecordFaults((IGrainFactory)original.ImplementationFactory!(provider), complete));
    };

    public TGrainInterface GetGrain<TGrainInterface>(string key)
        where TGrainInterface : IGrainWithStringKey =>
        typeof(TGrainInterface) == typeof(IIdempotencyGrain)
            ? (TGrainInterface)(object)new Record(inner.GetGrain<IIdempotencyGrain>(key), key, complete)
            : inner.GetGrain<TGrainInterface>(key);

    private sealed class Record(IIdempotencyGrain inner, string key, Func<string, Func<Task>, Task> complete) : IIdempotencyGrain
    {
        public Task<IdempotencyResult> BeginAsync(IdempotencyBegin request) => inner.BeginAsync(request);

        public Task CompleteAsync(string runId, IdempotentResponse response) => complete(key, () => inner.CompleteAsync(runId, response));

        public Task ReceiveReminder(string reminderName, TickStatus status) => inner.ReceiveReminder(reminderName, status);
    }
}
