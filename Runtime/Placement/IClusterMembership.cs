namespace Orchestration.Runtime.Placement;

/// <summary>Implemented by routers that know every silo of the cluster.</summary>
internal interface IClusterMembership
{
    IReadOnlyList<SiloRuntime> Silos { get; }
}
