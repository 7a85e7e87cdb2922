using System.Text.Json;
using System.Text.Json.Serialization;
using Orchestration.Api.Contracts;
using Orchestration.Grains.Agents;
using Orchestration.Grains.Keys;
using Orchestration.Grains.Organisations;
using Orchestration.Grains.Tasks;
using Orchestration.Runtime.Management;

namespace Orchestration.Api.Extensions;

/// <summary>Source-generated JSON for every Api request and response.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ClusterStatus))]
[JsonSerializable(typeof(CreateOrgRequest))]
[JsonSerializable(typeof(OrgCreated))]
[JsonSerializable(typeof(OrgSettingsRequest))]
[JsonSerializable(typeof(Orchestration.Grains.Organisations.OrganisationSettings))]
[JsonSerializable(typeof(ListPage<OrganisationView>))]
[JsonSerializable(typeof(CreateKeyRequest))]
[JsonSerializable(typeof(KeyCreated))]
[JsonSerializable(typeof(ListPage<ApiKeyView>))]
[JsonSerializable(typeof(RegisterAgentRequest))]
[JsonSerializable(typeof(AgentView))]
[JsonSerializable(typeof(HeartbeatResult))]
[JsonSerializable(typeof(ListPage<AgentView>))]
[JsonSerializable(typeof(CreateTaskRequest))]
[JsonSerializable(typeof(ClaimNextTaskRequest))]
[JsonSerializable(typeof(ClaimTaskRequest))]
[JsonSerializable(typeof(ProgressRequest))]
[JsonSerializable(typeof(CompleteRequest))]
[JsonSerializable(typeof(FailRequest))]
[JsonSerializable(typeof(ReleaseRequest))]
[JsonSerializable(typeof(CancelRequest))]
[JsonSerializable(typeof(TaskView))]
[JsonSerializable(typeof(ListPage<TaskView>))]
[JsonSerializable(typeof(ApiEvent))]
[JsonSerializable(typeof(EventPage))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
