using Microsoft.Extensions.Options;
using Orchestration.Api.Extensions;

namespace Orchestration.Api.Tests;

/// <summary>The Api's settings are checked when it starts, every broken rule named, instead of misbehaving later.</summary>
public sealed class ApiOptionsTests
{
    [Fact]
    public void Validate_Defaults_BreakNoRule() => Assert.Empty(new ApiOptions().Validate());

    [Fact]
    public void Validate_InFlightTimeoutNoLongerThanALongPoll_IsRefused()
    {
        // A claim may wait 30 s: a key freed sooner would let a retry claim a second task while the first still waits.
        var errors = new ApiOptions { IdempotencyInFlightTimeout = TimeSpan.FromSeconds(30) }.Validate().ToList();

        Assert.Contains(errors, error => error.Contains("IdempotencyInFlightTimeout", StringComparison.Ordinal));
        Assert.Empty(new ApiOptions { IdempotencyInFlightTimeout = TimeSpan.FromSeconds(31) }.Validate());
    }

    [Fact]
    public void Validate_SeveralBrokenRules_NamesEachOfThem()
    {
        var errors = new ApiOptions { MaxRequestTargetBytes = 0, IdempotencyRetention = TimeSpan.FromMinutes(1), SseBufferSize = 0 }
            .Validate().ToList();

        Assert.Equal(3, errors.Count);
    }

    [Fact]
    public async Task Start_WithABrokenSetting_FailsNamingIt()
    {
        using var storage = new ApiStorage.Sqlite();
        await using var factory = ApiFactory.Create(storage.Settings, new Dictionary<string, string?>
        {
            ["Orchestration:IdempotencyInFlightTimeout"] = "00:00:10",
        });

        var exception = Assert.Throws<OptionsValidationException>(() => factory.CreateClient());
        Assert.Contains("IdempotencyInFlightTimeout", exception.Message, StringComparison.Ordinal);
    }
}
