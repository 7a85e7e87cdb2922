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
    /// thread that arms its timer at a moment the test cannot see. The clock moves at most once every 100 ms of real time
    /// (code that arms its timer within a second or two of real time is caught, even on a loaded machine), and never
    /// more than <paramref name="atMost"/> in all: a grain call times out on this clock after 30 s.
    /// </summary>
    public static Task TrueWhileMovingAsync(ManualTimeProvider clock, TimeSpan atMost, Func<bool> done, string? because = null)
    {
        var moved = TimeSpan.Zero;
        var sinceStep = System.Diagnostics.Stopwatch.StartNew();
        return TrueAsync(
            () =>
            {
                if (moved < atMost && sinceStep.ElapsedMilliseconds >= 100)
                {
                    clock.Advance(TimeSpan.FromSeconds(1));
                    moved += TimeSpan.FromSeconds(1);
                    sinceStep.Restart();
                }

                return Task.FromResult(done());
            },
            because);
    }
}
