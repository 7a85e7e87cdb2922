namespace Orchestration.Runtime.Management;

/// <summary>The cluster as seen from one silo.</summary>
/// <param name="StorageProvider">The storage provider in use: <c>Memory</c>, <c>Sqlite</c> or <c>Postgres</c>.</param>
/// <param name="Silos">Every known silo.</param>
public sealed record ClusterStatus(string StorageProvider, IReadOnlyList<SiloStatus> Silos);
