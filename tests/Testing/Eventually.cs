using Xunit;

namespace Orchestration.Testing;

/// <summary>Waits for a condition that another thread makes true; fails after 20 s instead of hanging.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<Task<bool>> condition, string? because = null)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!await condition())
        {
            if (timeout.IsCancellationRequested)
            {
                Assert.Fail($"Condition not met within 20 s{(because is null ? string.Empty : ": " + because)}.");
            }

            await Task.Delay(5, CancellationToken.None);
        }
    }

    /// <summary>
    /// Waits for <paramref name="done"/> while moving <paramref name="clock"/> a second at a time, for code on another
    /// thread that arms its timer at a moment the test cannot see; never more than <paramref name="atMost"/> in all, so
    /// a loaded machine, slow to make it true, does not also carry the clock past a grain call's 30 s timeout.
    /// </summary>
    public static Task TrueWhileMovingAsync(ManualTimeProvider clock, TimeSpan atMost, Func<bool> done, string? because = null)
    {
        var moved = TimeSpan.Zero;
        return TrueAsync(
            () =>
            {
                if (moved < atMost)
                {
                    clock.Advance(TimeSpan.FromSeconds(1));
                    moved += TimeSpan.FromSeconds(1);
                }

                return Task.FromResult(done());
            },
            because);
    }
}
