namespace Orchestration.AppHost.Hosting;

/// <summary>Adds PostgreSQL to the model, as Aspire's <c>AddPostgres</c>.</summary>
internal static class PostgresBuilderExtensions
{
    /// <summary>
    /// A PostgreSQL server named <paramref name="name"/> and its generated password parameter
    /// (<c>&lt;name&gt;-password</c>). A run uses the server <c>ConnectionStrings__&lt;name&gt;</c> names when the
    /// AppHost's environment sets it; otherwise it starts a local one with its data in <c>&lt;data&gt;/&lt;name&gt;</c>.
    /// </summary>
    public static PostgresServerResource AddPostgres(this DistributedApplicationBuilder builder, string name)
    {
        var external = Environment.GetEnvironmentVariable($"ConnectionStrings__{name}") is { Length: > 0 } given ? given : null;
        var postgres = builder.AddResource(new PostgresServerResource(name, Path.Combine(builder.DataDirectory, name), external));
        builder.AddResource(postgres.Password);
        return postgres;
    }
}
