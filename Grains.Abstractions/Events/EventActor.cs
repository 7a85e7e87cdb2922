namespace Orchestration.Grains.Events;

/// <summary>Who caused an event.</summary>
/// <param name="Type"><c>agent</c>, <c>user</c>, <c>api_key</c> or <c>system</c>.</param>
/// <param name="Id">The actor's id within its type.</param>
public sealed record EventActor(string Type, string Id);
