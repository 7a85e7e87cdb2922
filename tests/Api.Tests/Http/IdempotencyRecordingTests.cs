using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Orchestration.Runtime;

namespace Orchestration.Api.Tests.Http;

/// <summary>
/// The answer of a request that took effect is recorded for its Idempotency-Key even when the record's grain is cut off
/// for a moment (its silo died or handed it over): answered 503 instead, the client's retry ran it a second time once
/// the record's in-flight deadline had passed (a cluster chaos run created a task twice under one key).
/// </summary>
public sealed class IdempotencyRecordingTests : IAsyncLifetime
{
    private readonly ApiStorage _storage = new ApiStorage.Sqlite();
    private ApiFactory _factory = null!;
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        // The first two recordings of an answer fail as they do while the record's partition changes owner.
        var failuresLeft = 2;
        _factory = ApiFactory.Create(_storage.Settings, overrideServices: IdempotencyRecordFaults.Install((_, record) =>
            Interlocked.Decrement(ref failuresLeft) >= 0
                ? Task.FromException(new GrainOwnershipLostException(new GrainId("idempotency", "k"), "partition 1 epoch 1: its lease ended here"))
                : record()));
        _client = _factory.CreatePlatformClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
        _storage.Dispose();
    }

    [Fact]
    public async Task Post_RecordCutOffTwice_AnswersWhatHappenedAndTheRetryIsReplayed()
    {
        var first = await SendAsync();
        var retry = await SendAsync();

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(await first.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());
        Assert.Equal(1, (await _client.GetFromJsonAsync<JsonElement>("/api/v1/tasks")).GetProperty("items").GetArrayLength());
    }

    private Task<HttpResponseMessage> SendAsync()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/tasks") { Content = JsonContent.Create(new { title = "Build" }) };
        request.Headers.Add("Idempotency-Key", "k-1");
        return _client.SendAsync(request);
    }
}
