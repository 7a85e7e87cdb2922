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
}
