namespace Orchestration.Runtime.Persistence;

/// <summary>Addresses one named state of one grain in storage.</summary>
internal readonly record struct GrainStateKey(string GrainType, string GrainKey, string StateName);
