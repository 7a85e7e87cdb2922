namespace Orchestration.Runtime.Bench;

/// <summary>How long to run: <c>--quick</c> finishes in well under a minute; the default runs longer and steadier.</summary>
internal sealed record Settings(bool Quick, bool Trace = false)
{
    /// <summary>The shortest warm-up; it goes on until the rate is steady, up to <see cref="MaxWarmup"/>.</summary>
    public TimeSpan Warmup => Quick ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(3);

    /// <summary>The longest warm-up: a rate that never settles is measured anyway (its windows show why).</summary>
    public TimeSpan MaxWarmup => Quick ? TimeSpan.FromSeconds(8) : TimeSpan.FromSeconds(20);

    public TimeSpan Duration => Quick ? TimeSpan.FromSeconds(3) : TimeSpan.FromSeconds(10);

    public int Activations => Quick ? 100_000 : 1_000_000;
}
