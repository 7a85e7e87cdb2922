using System.Text.Json;
using System.Text.Json.Serialization;
using Orchestration.Runtime.Management;

namespace Orchestration.Api.Extensions;

/// <summary>Source-generated JSON for every Api response.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ClusterStatus))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
