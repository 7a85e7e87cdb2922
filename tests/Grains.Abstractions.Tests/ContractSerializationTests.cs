using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Orchestration.Grains.Events;
using Orchestration.Grains.Tasks;
using Orchestration.Runtime;
using Orchestration.Runtime.Management;
using Orchestration.Runtime.Streams;

namespace Orchestration.Grains.Tests;

/// <summary>
/// Every argument and result of every grain interface, and every stream item type, must have source-generated JSON
/// metadata: calls between silos serialize with it, without reflection.
/// </summary>
public sealed class ContractSerializationTests
{
    private static readonly Assembly[] s_contractAssemblies = [typeof(IGrain).Assembly, typeof(GrainContractsJsonContext).Assembly];

    private static readonly JsonSerializerOptions s_sourceGeneratedOnly = new(JsonSerializerDefaults.Web)
    {
        TypeInfoResolver = JsonTypeInfoResolver.Combine(RuntimeContractsJsonContext.Default, GrainContractsJsonContext.Default),
    };

    public static TheoryData<string> ContractTypes()
    {
        var data = new TheoryData<string>();
        foreach (var type in ScanContractTypes())
        {
            data.Add(type.AssemblyQualifiedName!);
        }

        return data;
    }

    private static IEnumerable<Type> ScanContractTypes()
    {
        var grainInterfaces = s_contractAssemblies.SelectMany(assembly => assembly.GetExportedTypes())
            .Where(type => type.IsInterface && typeof(IGrain).IsAssignableFrom(type) && type != typeof(IGrain) && type != typeof(IGrainWithStringKey));
        var fromMethods = grainInterfaces.SelectMany(type => type.GetMethods())
            .SelectMany(method => method.GetParameters().Select(parameter => parameter.ParameterType).Append(ResultType(method.ReturnType)))
            .OfType<Type>();
        var streamItems = s_contractAssemblies.SelectMany(assembly => assembly.GetExportedTypes())
            .Where(type => type.IsClass && !type.IsAbstract && typeof(IStreamEvent).IsAssignableFrom(type));
        return fromMethods.Concat(streamItems).Distinct().OrderBy(type => type.FullName);
    }

    [Theory]
    [MemberData(nameof(ContractTypes))]
    public void ContractType_HasSourceGeneratedJsonMetadata(string assemblyQualifiedName)
    {
        var type = Type.GetType(assemblyQualifiedName, throwOnError: true)!;

        var typeInfo = s_sourceGeneratedOnly.TypeInfoResolver!.GetTypeInfo(type, s_sourceGeneratedOnly);

        Assert.True(typeInfo is not null, $"{type.FullName} is used by a grain contract but no JsonSerializerContext lists it.");
    }

    [Fact]
    public void ContractTypes_FoundByScan_IncludeTheKnownOnes()
    {
        var names = ScanContractTypes().ToList();

        Assert.Contains(typeof(ClusterStatus), names);
        Assert.Contains(typeof(StreamEvent), names);
        Assert.Contains(typeof(EventEnvelope), names);
    }

    [Fact]
    public void EventEnvelope_RoundTrip_KeepsEveryFieldInCamelCase()
    {
        using var payload = JsonDocument.Parse("""{"taskId":"t-1","attempt":2}""");
        var envelope = new EventEnvelope("evt-1", "task.claimed", new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.Zero), "acme",
            new EventActor("agent", "claude-1"), "acme/t-1", "wf-9", "00-abc-01", payload.RootElement.Clone());

        var json = JsonSerializer.Serialize(envelope, GrainContractsJsonContext.Default.EventEnvelope);
        var back = JsonSerializer.Deserialize(json, GrainContractsJsonContext.Default.EventEnvelope)!;

        Assert.Contains("\"occurredAt\":\"2026-11-22T08:00:00+00:00\"", json);
        Assert.Contains("\"correlationId\":\"wf-9\"", json);
        Assert.Equal("task.claimed", ((IStreamEvent)back).EventType);
        Assert.Equal(envelope.Actor, back.Actor);
        Assert.Equal(2, back.Payload.GetProperty("attempt").GetInt32());
    }

    [Fact]
    public void TaskView_ReadFromARowWithoutProgress_HasProgressAsAnObject()
    {
        // Projection rows written before progress was always an object hold "progress":null; lists read them as they are.
        const string OldRow = """
            {"id":"t-1","title":"Build","description":null,"priority":50,"requiredCapabilities":[],"dependsOn":[],
             "status":"ready","attempt":0,"maxAttempts":3,"leaseSeconds":300,"lease":null,"input":null,"output":null,
             "error":null,"progress":null,"workflowId":null,"blockedReason":null,"nextAttemptAt":null,
             "createdAt":"2026-11-22T08:00:00+00:00","updatedAt":"2026-11-22T08:00:00+00:00"}
            """;

        var view = JsonSerializer.Deserialize(OldRow, GrainContractsJsonContext.Default.TaskView)!;
        var json = JsonSerializer.Serialize(view, GrainContractsJsonContext.Default.TaskView);

        Assert.Equal(TaskProgress.None, view.Progress);
        Assert.Contains("\"progress\":{\"percent\":null,\"message\":null}", json);
        Assert.Equal(TaskProgress.None, (view with { Progress = null! }).Progress);
    }

    private static Type? ResultType(Type returnType) =>
        returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(Task<>) ? returnType.GetGenericArguments()[0] : null;
}
