namespace Orchestration.Runtime.Bench;

/// <summary>How long to run: <c>--quick</c> finishes in well under a minute; the default runs longer and steadier.</summary>
internal sealed record Settings(bool Quick)
{
    public TimeSpan Warmup => Quick ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(3);

    public TimeSpan Duration => Quick ? TimeSpan.FromSeconds(3) : TimeSpan.FromSeconds(10);

    public int Activations => Quick ? 100_000 : 1_000_000;
}
