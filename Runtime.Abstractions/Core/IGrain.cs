namespace Orchestration.Runtime;

/// <summary>Marker for every grain interface. A grain is a virtual actor: addressed by identity, activated on demand.</summary>
public interface IGrain;

/// <summary>A grain addressed by a string key, such as <c>{org}/{id}</c>.</summary>
public interface IGrainWithStringKey : IGrain;
