namespace Orchestration.Runtime.Activations;

internal enum ActivationStatus : byte
{
    /// <summary>Created; the first pump runs activation.</summary>
    Created,
    Activating,
    Valid,
    Deactivating,

    /// <summary>Gone: removed from the directory; messages that reach it are sent again to a new activation.</summary>
    Invalid,
}
