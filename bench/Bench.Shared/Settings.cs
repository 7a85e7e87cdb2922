namespace Orchestration.Bench;

/// <summary>
/// How long to run and what: <c>--quick</c> finishes in well under a minute; the default runs longer and steadier.
/// <c>--trace</c> prints where the first second goes; <c>--only PREFIX</c> runs the benchmarks whose names start with it.
/// </summary>
public sealed record Settings(bool Quick, bool Trace = false, string? Only = null)
{
    /// <summary>The shortest warm-up; it goes on until the rate is steady, up to <see cref="MaxWarmup"/>.</summary>
    public TimeSpan Warmup => Quick ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(3);

    /// <summary>The longest warm-up: a rate that never settles is measured anyway (its windows show why).</summary>
    public TimeSpan MaxWarmup => Quick ? TimeSpan.FromSeconds(15) : TimeSpan.FromSeconds(40);

    public TimeSpan Duration => Quick ? TimeSpan.FromSeconds(3) : TimeSpan.FromSeconds(10);

    public int Activations => Quick ? 100_000 : 1_000_000;

    /// <summary>The command line every benchmark driver takes: <c>--quick</c>, <c>--trace</c>, <c>--only PREFIX</c>.</summary>
    public static Settings FromArgs(string[] args) =>
        new(Quick: args.Contains("--quick"), Trace: args.Contains("--trace"), Only: args.SkipWhile(arg => arg != "--only").Skip(1).FirstOrDefault());

    /// <summary>Whether the benchmark <paramref name="name"/> runs (every one unless <c>--only</c> names a prefix).</summary>
    public bool Selected(string name) => Only is null || name.StartsWith(Only, StringComparison.Ordinal);
}
