namespace Orchestration.AppHost.Hosting;

/// <summary>
/// A value in its two forms, as Aspire's reference expressions have them: what a process gets when the AppHost runs it
/// (resolved for one replica, when that replica starts, so ports and secrets exist by then), and the expression the
/// manifest carries, such as <c>{postgres.connectionString}</c>. A <c>null</c> in either form leaves the value out in
/// that mode.
/// </summary>
internal sealed class ValueExpression(string? manifest, Func<int, string?> run)
{
    public string? Manifest { get; } = manifest;

    /// <summary>The value replica <paramref name="replica"/> (0-based) of the consuming resource gets.</summary>
    public string? Resolve(int replica) => run(replica);

    public static ValueExpression Literal(string value) => new(value, _ => value);

    public static ValueExpression RunOnly(Func<int, string?> run) => new(null, run);

    public static ValueExpression PublishOnly(string manifest) => new(manifest, _ => null);
}
