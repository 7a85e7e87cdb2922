namespace Orchestration.Runtime.Persistence;

/// <summary>A stored state: its JSON and its version (the ETag; starts at 1, grows by one per write).</summary>
internal sealed record GrainStateRecord(string Data, long Version);
