using System.Text.Json;
using System.Text.Json.Serialization;
using Orchestration.Runtime.Reminders;
using Orchestration.Runtime.Streams;

namespace Orchestration.Runtime.Management;

/// <summary>Source-generated JSON metadata for every argument and result of the runtime's own grain interfaces.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ClusterStatus))]
[JsonSerializable(typeof(SiloStatus))]
[JsonSerializable(typeof(StreamEvent))]
[JsonSerializable(typeof(TickStatus))]
[JsonSerializable(typeof(string))]
public sealed partial class RuntimeContractsJsonContext : JsonSerializerContext;
