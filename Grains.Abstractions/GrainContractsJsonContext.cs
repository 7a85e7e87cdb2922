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
[JsonSerializable(typeof(Organisations.OrganisationView))]
[JsonSerializable(typeof(Organisations.OrganisationSettings))]
[JsonSerializable(typeof(Keys.ApiKeyView))]
[JsonSerializable(typeof(Keys.IssueApiKey))]
[JsonSerializable(typeof(Keys.ApiKeyPrincipal))]
[JsonSerializable(typeof(Keys.ApiKeyRole))]
[JsonSerializable(typeof(Agents.AgentView))]
[JsonSerializable(typeof(Agents.AgentStatus))]
[JsonSerializable(typeof(Agents.RegisterAgent))]
[JsonSerializable(typeof(Agents.AgentRegistration))]
[JsonSerializable(typeof(Agents.HeartbeatResult))]
[JsonSerializable(typeof(Agents.ClaimTicket))]
[JsonSerializable(typeof(Agents.TaskOutcome))]
[JsonSerializable(typeof(Tasks.TaskView))]
[JsonSerializable(typeof(Tasks.TaskLifecycleStatus))]
[JsonSerializable(typeof(Tasks.CreateTask))]
[JsonSerializable(typeof(Tasks.LeaseHolderCall))]
[JsonSerializable(typeof(Tasks.ReadyTask))]
[JsonSerializable(typeof(Tasks.ClaimTask))]
[JsonSerializable(typeof(Tasks.TaskLease))]
[JsonSerializable(typeof(Tasks.TaskProgress))]
[JsonSerializable(typeof(Idempotency.IdempotencyBegin))]
[JsonSerializable(typeof(Idempotency.IdempotencyResult))]
[JsonSerializable(typeof(Idempotency.IdempotentResponse))]
public sealed partial class GrainContractsJsonContext : JsonSerializerContext;
