using System.Globalization;
using System.Runtime;

namespace Orchestration.Bench;

/// <summary>
/// How much the JIT has worked so far, in this process and in the processes it started (an Api, silos): what a
/// warm-up waits to settle. A child's JIT cannot be asked in-process, so its tiering thread (".NET Tiered Com", which
/// recompiles hot code in the background for seconds after load starts) is read from <c>/proc</c>.
/// </summary>
public static class JitActivity
{
    private const string TieringThread = ".NET Tiered Com";

    /// <summary>This process's compilation time plus the CPU time of every child's tiering thread.</summary>
    public static TimeSpan Total() =>
        JitInfo.GetCompilationTime() + ChildProcesses.All().Aggregate(TimeSpan.Zero, (sum, child) => sum + TieringCpu(child));

    private static TimeSpan TieringCpu(int pid)
    {
        var total = TimeSpan.Zero;
        try
        {
            foreach (var thread in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                if (File.ReadAllText(Path.Combine(thread, "comm")).TrimEnd('\n') == TieringThread)
                {
                    total += ChildProcesses.CpuOf(Path.Combine(thread, "stat"));
                }
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // The process or thread ended while being read: it compiles nothing any more.
        }

        return total;
    }
}

/// <summary>The processes this one started, read from <c>/proc</c> (Linux).</summary>
public static class ChildProcesses
{
    /// <summary>The ids of this process's children (one level: the Api or silo hosts a benchmark starts).</summary>
    public static IReadOnlyList<int> All(string? commandLineContains = null)
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
