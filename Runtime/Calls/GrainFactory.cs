using Orchestration.Runtime.Activations;

namespace Orchestration.Runtime.Calls;

/// <summary>Creates grain references bound to a dispatcher.</summary>
internal sealed class GrainFactory(GrainTypeRegistry registry, GrainCallDispatcher dispatcher) : IGrainFactory
{
    public TGrainInterface GetGrain<TGrainInterface>(string key) where TGrainInterface : IGrainWithStringKey
    {
        var grainInterface = registry.GetInterface(typeof(TGrainInterface));
        return GrainProxy.Create<TGrainInterface>(dispatcher, grainInterface, new GrainId(grainInterface.GrainClass.TypeName, ValidateKey(key)));
    }

    /// <summary>A reference through an interface many grain classes share (IRemindable, IStreamConsumerGrain, …).</summary>
    public TGrainInterface GetGrain<TGrainInterface>(GrainId grainId) where TGrainInterface : IGrainWithStringKey
    {
        var grainInterface = registry.GetInterface(typeof(TGrainInterface), grainId.Type);
        return GrainProxy.Create<TGrainInterface>(dispatcher, grainInterface, grainId);
    }

    private static string ValidateKey(string key) =>
        string.IsNullOrEmpty(key) ? throw new ArgumentException("A grain key must not be empty.", nameof(key)) : key;
}
