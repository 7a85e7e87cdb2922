using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orchestration.Bench;

/// <summary>
/// One benchmark's line: its value, the baseline measured in the same run, and value ÷ baseline. Throughput benchmarks
/// add <see cref="FirstSecondRatio"/> (the first second after start ÷ the steady rate), <see cref="RampSeconds"/>, the
/// warm-up it took to settle and whether it did (<see cref="Steady"/>: false when the warm-up's limit came first);
/// durable-write benchmarks add the disk's <see cref="FsyncPerSecond"/>, which bounds what any durable commit can do.
/// </summary>
public sealed record Result(string Benchmark, double Value, string Unit, string Baseline, double BaselineValue, double Ratio)
{
    public double? FirstSecondRatio { get; init; }

    public double? WarmupSeconds { get; init; }

    /// <summary>Seconds after start until a one-second window first reached 90 % of the steady rate.</summary>
    public int? RampSeconds { get; init; }

    public bool? Steady { get; init; }

    /// <summary>CPU µs per operation over the measured window: the benchmark's process (runtime and load) and the server.</summary>
    public double? CpuMicroseconds { get; init; }

    public double? ServerCpuMicroseconds { get; init; }

    public double? FsyncPerSecond { get; init; }

    public static Result Compare(string benchmark, double value, string unit, string baseline, double baselineValue) =>
        new(benchmark, Math.Round(value, 1), unit, baseline, Math.Round(baselineValue, 1), Math.Round(value / baselineValue, 3));

    public static Result Compare(string benchmark, Throughput value, string unit, string baseline, double baselineValue) =>
        Compare(benchmark, value.PerSecond, unit, baseline, baselineValue) with
        {
            FirstSecondRatio = Math.Round(value.Ramp, 3),
            WarmupSeconds = Math.Round(value.Warmup.TotalSeconds, 1),
            RampSeconds = value.RampSeconds,
            Steady = value.Steady,
            CpuMicroseconds = value.CpuMicroseconds is { } cpu ? Math.Round(cpu, 1) : null,
            ServerCpuMicroseconds = value.ServerCpuMicroseconds is { } serverCpu ? Math.Round(serverCpu, 1) : null,
        };

    public string ToJson() => JsonSerializer.Serialize(this, ResultJsonContext.Default.Result);
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Result))]
internal sealed partial class ResultJsonContext : JsonSerializerContext;
