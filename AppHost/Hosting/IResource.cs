namespace Orchestration.AppHost.Hosting;

/// <summary>A named part of the app model, written to the manifest under its name.</summary>
internal interface IResource
{
    string Name { get; }

    /// <summary>Writes this resource's manifest object (its members; the caller opens and closes it).</summary>
    void WriteManifest(ManifestContext context);
}

/// <summary>A resource others reference by connection string (<c>ConnectionStrings__&lt;name&gt;</c>).</summary>
internal interface IResourceWithConnectionString : IResource
{
    ValueExpression ConnectionString { get; }
}

/// <summary>A resource a run starts as processes, once the resources it waits for are healthy.</summary>
internal interface IProcessResource : IResource
{
    IReadOnlyList<IResource> WaitsFor { get; }

    /// <summary>
    /// Gets ready (for a server: its data directory) and describes the processes to start, one per replica. Empty
    /// when nothing needs to run, e.g. a server given by connection string, which it has then checked is there.
    /// </summary>
    Task<IReadOnlyList<ProcessSpec>> PrepareAsync(CancellationToken cancellationToken);
}
