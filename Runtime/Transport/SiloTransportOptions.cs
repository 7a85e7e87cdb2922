namespace Orchestration.Runtime.Transport;

/// <summary>Tuning for <see cref="SiloTransportServer"/> and <see cref="SiloTransportClient"/>.</summary>
internal sealed record SiloTransportOptions
{
    /// <summary>Connections the client keeps to each address; requests are spread over them round-robin. Default 2.</summary>
    public int ConnectionsPerAddress { get; init; } = 2;

    /// <summary>How long one connection attempt may take. Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the client looks for requests past their timeout (the timeout's resolution). Default 100 ms.</summary>
    public TimeSpan TimeoutCheckInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long a stopping server waits for in-flight requests and for clients to close. Default 10 s.</summary>
    public TimeSpan ShutdownGracePeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest body either side accepts; a larger frame closes the connection. Default 64 MiB.</summary>
    public int MaxFrameLength { get; init; } = 64 * 1024 * 1024;

    /// <summary>Throws one <see cref="ArgumentException"/> naming every invalid setting.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (ConnectionsPerAddress < 1)
        {
            errors.Add("ConnectionsPerAddress must be at least 1.");
        }

        if (ConnectTimeout <= TimeSpan.Zero)
        {
            errors.Add("ConnectTimeout must be positive.");
        }

        if (TimeoutCheckInterval <= TimeSpan.Zero)
        {
            errors.Add("TimeoutCheckInterval must be positive.");
        }

        if (ShutdownGracePeriod < TimeSpan.Zero)
        {
            errors.Add("ShutdownGracePeriod must not be negative.");
        }

        if (MaxFrameLength < 1)
        {
            errors.Add("MaxFrameLength must be at least 1.");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors));
        }
    }
}
