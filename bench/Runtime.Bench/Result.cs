using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orchestration.Runtime.Bench;

/// <summary>One benchmark's line: its value, the baseline measured in the same run, and value ÷ baseline.</summary>
internal sealed record Result(string Benchmark, double Value, string Unit, string Baseline, double BaselineValue, double Ratio)
{
    public static Result Compare(string benchmark, double value, string unit, string baseline, double baselineValue) =>
        new(benchmark, Math.Round(value, 1), unit, baseline, Math.Round(baselineValue, 1), Math.Round(value / baselineValue, 3));

    public string ToJson() => JsonSerializer.Serialize(this, ResultJsonContext.Default.Result);
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Result))]
internal sealed partial class ResultJsonContext : JsonSerializerContext;
