using System.Globalization;

namespace Orchestration.Bench;

/// <summary>What <c>/proc</c> (Linux) tells about processes: which this one started, and the CPU each has used.</summary>
public static class ProcFs
{
    /// <summary>The ids of this process's children (one level: the Api or silo hosts a benchmark starts).</summary>
    public static IReadOnlyList<int> Children(string? commandLineContains = null)
    {
        var children = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                if (StatFields(File.ReadAllText(Path.Combine(directory, "stat")))[1] == Environment.ProcessId.ToString(CultureInfo.InvariantCulture)
                    && (commandLineContains is null || File.ReadAllText(Path.Combine(directory, "cmdline")).Contains(commandLineContains, StringComparison.Ordinal)))
                {
                    children.Add(pid);
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // Ended while being read.
            }
        }

        return children;
    }

    /// <summary>The CPU time (user + system) of the process or thread whose <c>stat</c> file is <paramref name="statPath"/>.</summary>
    public static TimeSpan CpuOf(string statPath)
    {
        var fields = StatFields(File.ReadAllText(statPath));
        // utime and stime, in clock ticks (USER_HZ is 100 on Linux).
        return TimeSpan.FromSeconds((long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0);
    }

    // After the command name in parentheses (which may hold spaces): state is field 0 here, the parent id field 1.
    private static string[] StatFields(string stat) => stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
}
