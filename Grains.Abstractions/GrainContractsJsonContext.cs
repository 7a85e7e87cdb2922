using System.Text.Json;
using System.Text.Json.Serialization;
using Orchestration.Grains.Events;

namespace Orchestration.Grains;

/// <summary>
/// Source-generated JSON metadata for every argument and result of the grain interfaces in this assembly and for
/// every stream item. Calls between silos serialize with it; a test fails when a contract type is missing here.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(EventEnvelope))]
public sealed partial class GrainContractsJsonContext : JsonSerializerContext;
