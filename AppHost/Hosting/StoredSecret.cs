using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Orchestration.AppHost.Hosting;

/// <summary>A secret generated once and kept in a file only its owner can read (mode 0600), so later runs reuse it.</summary>
internal static class StoredSecret
{
    public static string ReadOrCreate(string path, Func<string> generate)
    {
        if (File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } stored)
        {
            return stored;
        }

        var secret = generate();
        Write(path, secret);
        return secret;
    }

    /// <summary>32 random bytes in base64url: safe in connection strings, headers and environment variables.</summary>
    public static string Random() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    public static void Write(string path, string secret)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(path, options))
        {
            stream.Write(Encoding.UTF8.GetBytes(secret + "\n"));
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite); // also when the file existed before
        }
    }
}
