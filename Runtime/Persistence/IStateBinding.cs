namespace Orchestration.Runtime.Persistence;

/// <summary>A persistent state bound to an activation, read before the grain activates.</summary>
internal interface IStateBinding
{
    Task ReadAsync();
}
