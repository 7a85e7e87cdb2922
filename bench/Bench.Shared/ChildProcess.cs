using System.Diagnostics;
using System.Reflection;

namespace Orchestration.Bench;

/// <summary>Benchmarks that need a second process start their own program again, with an argument that makes it the child.</summary>
public static class ChildProcess
{
    /// <summary>
    /// Starts this program (its apphost, or <c>dotnet</c> with its entry assembly) with <paramref name="arguments"/>,
    /// standard input and output redirected: the parent talks to the child in lines.
    /// </summary>
    public static Process StartSelf(params IEnumerable<string> arguments)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start)!;
    }
}
