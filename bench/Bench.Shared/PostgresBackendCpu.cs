using Npgsql;

namespace Orchestration.Bench;

/// <summary>The CPU the database's backends have used, for CPU per operation on the server's side.</summary>
public static class PostgresBackendCpu
{
    /// <summary>
    /// The CPU time so far of the backends connected to <paramref name="connectionString"/>'s database (the sampling
    /// connection's own excepted), from <c>/proc</c>: the throwaway server runs on this machine. Background processes
    /// (WAL writer, checkpointer) are not counted, nor are backends that ended since the previous sample.
    /// </summary>
    public static async Task<TimeSpan> ReadAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var total = TimeSpan.Zero;
        while (await reader.ReadAsync())
        {
            var path = $"/proc/{reader.GetInt32(0)}/stat";
            if (File.Exists(path))
            {
                total += ProcFs.CpuOf(path);
            }
        }

        return total;
    }
}
