using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Orchestration.AppHost.Hosting;

/// <summary>
/// A port a resource listens on, written as one of its manifest <c>bindings</c>. In a run each replica gets
/// <see cref="Port"/> when one is fixed, else a free loopback port chosen when first asked for.
/// </summary>
internal sealed class Endpoint(string resourceName, string name, string scheme, string transport)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<int, int> _ports = [];

    public string ResourceName { get; } = resourceName;

    /// <summary>The binding's name: <c>http</c>, <c>tcp</c>, or a custom one such as <c>silo</c>.</summary>
    public string Name { get; } = name;

    public string Scheme { get; } = scheme;

    /// <summary><c>http</c>, <c>http2</c> or <c>tcp</c>.</summary>
    public string Transport { get; } = transport;

    /// <summary>The port the process listens on once deployed, written to the manifest; <c>null</c> leaves it to the deployer.</summary>
    public int? TargetPort { get; init; }

    /// <summary>A run's fixed port (one replica only); <c>null</c>: a free port per replica.</summary>
    public int? Port { get; init; }

    /// <summary>The run's host: <c>localhost</c> for a port people type, <c>127.0.0.1</c> otherwise.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Reachable from outside the deployment (written only when true).</summary>
    public bool External { get; init; }

    public bool IsHttp => Scheme is "http" or "https";

    /// <summary><c>{resource.bindings.name.url}</c>; in a run, replica <c>i</c>'s URL.</summary>
    public ValueExpression Url => new($"{{{ResourceName}.bindings.{Name}.url}}", UrlOf);

    /// <summary><c>{resource.bindings.name.targetPort}</c>; in a run there is no proxy, so the port itself.</summary>
    public ValueExpression TargetPortExpression =>
        new($"{{{ResourceName}.bindings.{Name}.targetPort}}", replica => PortOf(replica).ToString(CultureInfo.InvariantCulture));

    public int PortOf(int replica)
    {
        if (Port is { } port)
        {
            return port;
        }

        lock (_gate)
        {
            if (!_ports.TryGetValue(replica, out var allocated))
            {
                allocated = _ports[replica] = FreeLoopbackPort();
            }

            return allocated;
        }
    }

    public string UrlOf(int replica) => $"{Scheme}://{Host}:{PortOf(replica).ToString(CultureInfo.InvariantCulture)}";

    public void WriteManifest(Utf8JsonWriter writer)
    {
        writer.WriteStartObject(Name);
        writer.WriteString("scheme", Scheme);
        writer.WriteString("protocol", "tcp");
        writer.WriteString("transport", Transport);
        if (TargetPort is { } targetPort)
        {
            writer.WriteNumber("targetPort", targetPort);
        }

        if (External)
        {
            writer.WriteBoolean("external", true);
        }

        writer.WriteEndObject();
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
