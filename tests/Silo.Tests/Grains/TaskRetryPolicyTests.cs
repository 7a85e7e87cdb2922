using Orchestration.Silo.Grains;

namespace Orchestration.Silo.Tests.Grains;

/// <summary>The retry back-off: doubling from the base delay, capped at <see cref="TaskRetryPolicy.MaxDelay"/>, jittered over the upper half.</summary>
public sealed class TaskRetryPolicyTests
{
    private static readonly TimeSpan s_base = new TaskRetryOptions().BaseDelay;

    public static TheoryData<int> LargeAttempts => [10, 30, 31, 64, 1_000, int.MaxValue];

    [Theory]
    [MemberData(nameof(LargeAttempts))]
    public void DelayAfter_LargeAttempts_StaysWithinTheCapsUpperHalf(int countedAttempts)
    {
        foreach (var random in new[] { 0.0, 0.5, 0.999_999_999 })
        {
            var delay = TaskRetryPolicy.DelayAfter(countedAttempts, random, s_base);

            Assert.InRange(delay, TaskRetryPolicy.MaxDelay / 2, TaskRetryPolicy.MaxDelay);
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(5, 16)]
    [InlineData(9, 256)]
    public void DelayAfter_BelowTheCap_JitterSpansTheUpperHalfOfTheDoubledDelay(int countedAttempts, int ceilingSeconds)
    {
        var ceiling = TimeSpan.FromSeconds(ceilingSeconds);

        Assert.Equal(ceiling / 2, TaskRetryPolicy.DelayAfter(countedAttempts, 0.0, s_base));
        Assert.Equal(ceiling * 0.75, TaskRetryPolicy.DelayAfter(countedAttempts, 0.5, s_base));
        var highest = TaskRetryPolicy.DelayAfter(countedAttempts, 0.999_999_999, s_base);
        Assert.InRange(highest, ceiling * 0.999, ceiling);
        Assert.True(highest < ceiling, $"{highest} reaches the ceiling {ceiling}, which random in [0, 1) never does");
    }

    [Fact]
    public void DelayAfter_AnyRandom_NeverLeavesItsBounds()
    {
        var random = new Random(20260301);
        for (var i = 0; i < 10_000; i++)
        {
            var attempts = random.Next(1, 40);
            var ceiling = TimeSpan.FromTicks(Math.Min(s_base.Ticks * (long)Math.Pow(2, Math.Min(attempts - 1, 30)), TaskRetryPolicy.MaxDelay.Ticks));

            var delay = TaskRetryPolicy.DelayAfter(attempts, random.NextDouble(), s_base);

            Assert.InRange(delay, ceiling / 2, ceiling);
        }
    }
}
