using System.Text.Json.Serialization;

namespace Orchestration.Grains.Idempotency;

/// <summary>The state an idempotency key was found in.</summary>
[JsonConverter(typeof(StrictEnumConverter<IdempotencyOutcome>))]
public enum IdempotencyOutcome
{
    /// <summary>Nothing was recorded: the caller runs the request and then completes or abandons it.</summary>
    [JsonStringEnumMemberName("started")]
    Started,

    /// <summary>The same key is in flight with the same body: HTTP 409 <c>idempotency_key_in_use</c>.</summary>
    [JsonStringEnumMemberName("in_flight")]
    InFlight,

    /// <summary>The key was used with another body: HTTP 422 <c>idempotency_key_reused</c>.</summary>
    [JsonStringEnumMemberName("mismatch")]
    Mismatch,

    /// <summary>The key was answered: replay <see cref="IdempotencyResult.Response"/>.</summary>
    [JsonStringEnumMemberName("completed")]
    Completed,
}
