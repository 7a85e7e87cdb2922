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
        JitInfo.GetCompilationTime() + ProcFs.Children().Aggregate(TimeSpan.Zero, (sum, child) => sum + TieringCpu(child));

    private static TimeSpan TieringCpu(int pid)
    {
        var total = TimeSpan.Zero;
        try
        {
            foreach (var thread in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                if (File.ReadAllText(Path.Combine(thread, "comm")).TrimEnd('\n') == TieringThread)
                {
                    total += ProcFs.CpuOf(Path.Combine(thread, "stat"));
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
