using System.Diagnostics;
using System.Globalization;

namespace Orchestration.AppHost.Hosting;

/// <summary>A local PostgreSQL server's data directory: Debian's binaries, <c>initdb</c> once, leftovers of killed runs.</summary>
internal static class LocalPostgres
{
    /// <summary>The folder with <c>initdb</c> and <c>postgres</c>: on PATH, else Debian's newest <c>/usr/lib/postgresql/N/bin</c>.</summary>
    public static string? FindBinDirectory()
    {
        var debian = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(version => int.TryParse(Path.GetFileName(version), CultureInfo.InvariantCulture, out var major) ? major : 0)
                .Select(version => Path.Combine(version, "bin"))
            : [];
        return (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(debian)
            .FirstOrDefault(directory => File.Exists(Path.Combine(directory, "initdb")) && File.Exists(Path.Combine(directory, "postgres")));
    }

    public static bool IsInitialised(string dataDirectory) => File.Exists(Path.Combine(dataDirectory, "PG_VERSION"));

    /// <summary>
    /// Runs <c>initdb</c> into a sibling folder and renames it into place, so a failed or interrupted first run never
    /// leaves a half-made <paramref name="dataDirectory"/> behind.
    /// </summary>
    public static async Task InitialiseAsync(
        string bin, string dataDirectory, string superuser, string password, IEnumerable<string> authentication, string? runAs, CancellationToken cancellationToken)
    {
        var parent = Path.GetDirectoryName(dataDirectory)!;
        var staging = dataDirectory + ".initdb";
        var passwordFile = Path.Combine(parent, $".{Path.GetFileName(dataDirectory)}.pwfile");
        Directory.CreateDirectory(parent);
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true);
        }

        Directory.CreateDirectory(staging);
        StoredSecret.Write(passwordFile, password);
        try
        {
            if (runAs is not null)
            {
                await RunAsync("chown", [$"{runAs}:", staging, passwordFile], runAs: null, cancellationToken);
            }

            await RunAsync(
                Path.Combine(bin, "initdb"),
                ["-D", staging, "-U", superuser, $"--pwfile={passwordFile}", "-E", "UTF8", "--no-locale", .. authentication],
                runAs,
                cancellationToken,
                hint: runAs is null ? null : $" (PostgreSQL runs as the {runAs} user, which must be able to reach {parent})");
        }
        finally
        {
            File.Delete(passwordFile);
        }

        Directory.Move(staging, dataDirectory);
    }

    /// <summary>
    /// Stops a server a killed AppHost left running on this data directory (its <c>postmaster.pid</c> names a live
    /// postgres process), so this run can start its own.
    /// </summary>
    public static async Task StopLeftoverServerAsync(string name, string dataDirectory, CancellationToken cancellationToken)
    {
        var pidFile = Path.Combine(dataDirectory, "postmaster.pid");
        if (!File.Exists(pidFile)
            || !int.TryParse(File.ReadLines(pidFile).FirstOrDefault(), CultureInfo.InvariantCulture, out var pid)
            || !Posix.IsAlive(pid)
            || !IsPostgres(pid))
        {
            return;
        }

        Console.WriteLine($"[apphost] {name}: stopping the server an earlier run left running (pid {pid})");
        Posix.Signal(pid, Posix.SigInt);
        for (var waited = TimeSpan.Zero; Posix.IsAlive(pid); waited += TimeSpan.FromMilliseconds(100))
        {
            if (waited > TimeSpan.FromSeconds(15))
            {
                throw new AppHostException($"{name}: the server an earlier run left running (pid {pid}) did not stop; stop it and run again.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

    private static bool IsPostgres(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/comm").Trim() is "postgres" or "postmaster";
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static async Task RunAsync(
        string fileName, IEnumerable<string> arguments, string? runAs, CancellationToken cancellationToken, string? hint = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (runAs is not null)
        {
            start.UserName = runAs;
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new AppHostException($"{fileName} did not start.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new AppHostException($"{Path.GetFileName(fileName)} failed with code {process.ExitCode}{hint}: {(await error).Trim()} {(await output).Trim()}");
        }
    }
}
