using System.Runtime.CompilerServices;

// The runtime binds new grain instances to their activation (see Grain.CreateWithContext).
[assembly: InternalsVisibleTo("Orchestration.Runtime")]
