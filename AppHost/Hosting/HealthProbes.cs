using Npgsql;

namespace Orchestration.AppHost.Hosting;

/// <summary>How a run decides a process is healthy.</summary>
internal static class HealthProbes
{
    private static readonly HttpClient s_client = new() { Timeout = TimeSpan.FromSeconds(2) };

    /// <summary>Healthy when <paramref name="url"/> answers a success status.</summary>
    public static Func<CancellationToken, Task<bool>> Http(string url) => async cancellationToken =>
    {
        using var response = await s_client.GetAsync(url, cancellationToken);
        return response.IsSuccessStatusCode;
    };

    /// <summary>Healthy when <c>SELECT 1</c> answers (a connection of its own, not pooled, so a stop is not held up).</summary>
    public static Func<CancellationToken, Task<bool>> Postgres(Func<string> connectionString) => async cancellationToken =>
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString()) { Pooling = false, Timeout = 2 };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        return await command.ExecuteScalarAsync(cancellationToken) is 1;
    };
}
