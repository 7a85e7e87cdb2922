namespace Orchestration.Runtime.Streams;

/// <summary>Identifies a stream: a namespace (for example <c>events</c>) and a key within it (for example <c>acme/tasks/build-42</c>).</summary>
public readonly record struct StreamId(string Namespace, string Key)
{
    /// <summary>Formats as <c>namespace/key</c>.</summary>
    public override string ToString() => $"{Namespace}/{Key}";
}
