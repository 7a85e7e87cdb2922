namespace Orchestration.AppHost.Hosting;

/// <summary>
/// A value supplied at deployment (Aspire's parameter): in the manifest a <c>parameter.v0</c> whose default the
/// deployer generates; in a run, <paramref name="runValue"/>, asked for once and only when a process needs it.
/// </summary>
internal sealed class ParameterResource(string name, int generatedMinLength, Func<string> runValue) : IResource
{
    private readonly Lazy<string> _runValue = new(runValue);

    public string Name { get; } = name;

    /// <summary><c>{name.value}</c>.</summary>
    public ValueExpression Value => new($"{{{Name}.value}}", _ => _runValue.Value);

    public void WriteManifest(ManifestContext context)
    {
        var writer = context.Writer;
        writer.WriteString("type", "parameter.v0");
        writer.WriteString("value", $"{{{Name}.inputs.value}}");
        writer.WriteStartObject("inputs");
        writer.WriteStartObject("value");
        writer.WriteString("type", "string");
        writer.WriteBoolean("secret", true);
        writer.WriteStartObject("default");
        writer.WriteStartObject("generate");
        writer.WriteNumber("minLength", generatedMinLength);
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
