using System.Text.Json.Serialization;

namespace Orchestration.Grains;

/// <summary>
/// Enums as their JSON names only. The default string-enum converter also reads numbers, so <c>"role": 99</c> would bind
/// to a value no name stands for and be stored; API.md answers an unknown enum value with 400.
/// </summary>
public sealed class StrictEnumConverter<TEnum>() : JsonStringEnumConverter<TEnum>(namingPolicy: null, allowIntegerValues: false)
    where TEnum : struct, Enum;
