using System.Globalization;
using Npgsql;

namespace Orchestration.AppHost.Hosting;

/// <summary>
/// A PostgreSQL server. Deployed, it is the container Aspire describes (<c>container.v0</c>, image
/// <c>postgres:17.6</c>, SCRAM authentication, a data volume, password from <see cref="Password"/>). In a run it is the
/// server given by <c>ConnectionStrings__&lt;name&gt;</c> in the AppHost's environment, else a local server started from
/// Debian's binaries in <see cref="DataDirectory"/> on a free loopback port: initialised once, reused by later runs,
/// stopped by a fast shutdown.
/// </summary>
internal sealed class PostgresServerResource : IProcessResource, IResourceWithConnectionString
{
    public const string Image = "docker.io/library/postgres:17.6";
    public const string User = "postgres";

    // As Aspire's Postgres container: SCRAM for every connection.
    private const string InitdbAuthentication = "--auth-host=scram-sha-256 --auth-local=scram-sha-256";

    private readonly string? _externalConnectionString;

    private readonly string _passwordFile;

    /// <param name="name">The resource's name.</param>
    /// <param name="dataDirectory">A run's data directory; the password is kept next to it in <c>&lt;name&gt;-password</c>.</param>
    /// <param name="externalConnectionString">A server to use instead of starting one (from <c>ConnectionStrings__&lt;name&gt;</c>).</param>
    public PostgresServerResource(string name, string dataDirectory, string? externalConnectionString)
    {
        Name = name;
        DataDirectory = dataDirectory;
        _passwordFile = Path.Combine(Path.GetDirectoryName(dataDirectory)!, $"{name}-password");
        Password = new ParameterResource($"{name}-password", 22, () => StoredSecret.ReadOrCreate(_passwordFile, StoredSecret.Random));
        _externalConnectionString = externalConnectionString;
        Tcp = new Endpoint(name, "tcp", "tcp", "tcp") { TargetPort = 5432 };
    }

    public string Name { get; }

    /// <summary>The <c>postgres</c> user's password (parameter <c>&lt;name&gt;-password</c>).</summary>
    public ParameterResource Password { get; }

    /// <summary>A run's data directory (the cluster lives in it); the manifest names a volume instead.</summary>
    public string DataDirectory { get; }

    public Endpoint Tcp { get; }

    /// <summary>The manifest's volume for the data directory: a stable name, not one derived from a path.</summary>
    public string VolumeName => $"orchestration-{Name}-data";

    public IReadOnlyList<IResource> WaitsFor => [];

    public ValueExpression ConnectionString => new($"{{{Name}.connectionString}}", _ => RunConnectionString());

    public async Task<IReadOnlyList<ProcessSpec>> PrepareAsync(CancellationToken cancellationToken)
    {
        if (_externalConnectionString is not null)
        {
            await WaitForExternalServerAsync(cancellationToken);
            return [];
        }

        var bin = LocalPostgres.FindBinDirectory() ?? throw new AppHostException(
            $"{Name}: PostgreSQL is not installed (no initdb and postgres on PATH or under /usr/lib/postgresql/*/bin). " +
            $"Install it with `sudo apt-get install postgresql`, or set ConnectionStrings__{Name} to a server you run.");
        // PostgreSQL refuses to run as root; Debian's package creates the postgres user for it.
        var user = Posix.IsRoot ? User : null;
        if (LocalPostgres.IsInitialised(DataDirectory) && !File.Exists(_passwordFile))
        {
            throw new AppHostException(
                $"{Name}: {_passwordFile}, the password of the server in {DataDirectory}, is missing. Restore it, or delete {DataDirectory} to start over (its data is lost).");
        }

        var password = Password.Value.Resolve(0)!;
        await LocalPostgres.StopLeftoverServerAsync(Name, DataDirectory, cancellationToken);
        if (!LocalPostgres.IsInitialised(DataDirectory))
        {
            Console.WriteLine($"[apphost] {Name}: initialising a new server in {DataDirectory} (once; later runs reuse it)");
            await LocalPostgres.InitialiseAsync(bin, DataDirectory, User, password, InitdbAuthentication.Split(' '), user, cancellationToken);
        }

        var port = Tcp.PortOf(0).ToString(CultureInfo.InvariantCulture);
        return
        [
            new ProcessSpec(
                Name,
                Path.Combine(bin, "postgres"),
                ["-D", DataDirectory, "-p", port, "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"],
                [],
                DataDirectory,
                Tcp.UrlOf(0),
                HealthProbes.Postgres(RunConnectionString))
            {
                UserName = user,
                StopSignal = Posix.SigInt, // fast shutdown: SIGTERM would wait for every client to disconnect
            },
        ];
    }

    public void WriteManifest(ManifestContext context)
    {
        var writer = context.Writer;
        writer.WriteString("type", "container.v0");
        writer.WriteString("image", Image);
        writer.WriteString(
            "connectionString",
            $"Host={{{Name}.bindings.tcp.host}};Port={{{Name}.bindings.tcp.port}};Username={User};Password={Password.Value.Manifest}");
        writer.WriteStartArray("volumes");
        writer.WriteStartObject();
        writer.WriteString("name", VolumeName);
        writer.WriteString("target", "/var/lib/postgresql/data");
        writer.WriteBoolean("readOnly", false);
        writer.WriteEndObject();
        writer.WriteEndArray();
        writer.WriteStartObject("env");
        writer.WriteString("POSTGRES_USER", User);
        writer.WriteString("POSTGRES_PASSWORD", Password.Value.Manifest);
        writer.WriteString("POSTGRES_HOST_AUTH_METHOD", "scram-sha-256");
        writer.WriteString("POSTGRES_INITDB_ARGS", InitdbAuthentication);
        writer.WriteEndObject();
        writer.WriteStartObject("bindings");
        Tcp.WriteManifest(writer);
        writer.WriteEndObject();
    }

    private string RunConnectionString() =>
        _externalConnectionString ?? new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Tcp.PortOf(0),
            Username = User,
            Password = Password.Value.Resolve(0),
        }.ConnectionString;

    private async Task WaitForExternalServerAsync(CancellationToken cancellationToken)
    {
        var probe = HealthProbes.Postgres(RunConnectionString);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        Exception? last = null;
        while (!timeout.IsCancellationRequested)
        {
            try
            {
                if (await probe(timeout.Token))
                {
                    Console.WriteLine($"[apphost] {Name} is healthy at the server ConnectionStrings__{Name} names (not started here)");
                    return;
                }
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException or OperationCanceledException)
            {
                last = exception;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ContinueWith(static _ => { }, TaskScheduler.Default);
        }

        cancellationToken.ThrowIfCancellationRequested();
        throw new AppHostException($"{Name}: the server ConnectionStrings__{Name} names did not answer within 30 s: {last?.Message}");
    }
}
