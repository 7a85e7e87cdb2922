using System.Runtime.InteropServices;

namespace Orchestration.AppHost.Hosting;

/// <summary>The few libc calls the AppHost needs: signals for graceful stops, and whether it runs as root.</summary>
internal static partial class Posix
{
    public const int SigInt = 2;
    public const int SigTerm = 15;

    public static bool IsRoot => !OperatingSystem.IsWindows() && GetEffectiveUserId() == 0;

    /// <summary>Sends <paramref name="signal"/>; false when the process is gone.</summary>
    public static bool Signal(int pid, int signal) => Kill(pid, signal) == 0;

    /// <summary>Whether <paramref name="pid"/> is a live process (signal 0 checks without sending).</summary>
    public static bool IsAlive(int pid) => Kill(pid, 0) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();
}
