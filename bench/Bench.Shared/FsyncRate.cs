using System.Diagnostics;

namespace Orchestration.Bench;

/// <summary>
/// The disk's rate of small synchronous writes: an 8 KiB write (a WAL page) then a flush to disk, in a loop for one
/// second, in the directory the database lives in. Every durable commit waits for at least one such flush, so this is
/// the number that makes runs on different machines comparable.
/// </summary>
public static class FsyncRate
{
    public static double Measure(string directory)
    {
        var path = Path.Combine(directory, $"fsync-{Guid.NewGuid():N}.tmp");
        var page = new byte[8192];
        try
        {
            using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
            file.Write(page);
            file.Flush(flushToDisk: true);
            var flushes = 0;
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < TimeSpan.FromSeconds(1))
            {
                file.Position = 0;
                file.Write(page);
                file.Flush(flushToDisk: true);
                flushes++;
            }

            return Math.Round(flushes / watch.Elapsed.TotalSeconds);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
