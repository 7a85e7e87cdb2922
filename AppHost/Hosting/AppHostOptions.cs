using System.Globalization;

namespace Orchestration.AppHost.Hosting;

/// <summary>
/// The AppHost's command line. No arguments: run the embedded model. <c>--cluster [--silos N]</c>: run the cluster
/// model (N defaults to 3). <c>--publisher manifest [--output-path FILE]</c>: write the cluster model as Aspire's
/// manifest (default <c>aspire-manifest.json</c>) instead of running it. <c>--without NAME</c> (repeatable) leaves a
/// service out of a run, e.g. to start it from an IDE.
/// </summary>
internal sealed record AppHostOptions
{
    public const int DefaultSilos = 3;

    public const string Usage =
        "Usage: dotnet run --project AppHost [-- --cluster [--silos N] [--without NAME]... | --publisher manifest [--output-path FILE]]";

    /// <summary>Run (or publish) the cluster model: postgres, silos, api. Publishing always describes it.</summary>
    public bool Cluster { get; private init; }

    /// <summary>Silo replicas in a cluster run (default 3).</summary>
    public int Silos { get; private init; } = DefaultSilos;

    /// <summary><c>manifest</c> when publishing; <c>null</c> when running.</summary>
    public string? Publisher { get; private init; }

    /// <summary>Where the manifest goes, relative to the current directory (default <c>aspire-manifest.json</c>).</summary>
    public string OutputPath { get; private init; } = "aspire-manifest.json";

    /// <summary>Services left out of a run.</summary>
    public IReadOnlySet<string> Without { get; private init; } = new HashSet<string>();

    /// <summary>Every problem with the command line, reported together.</summary>
    public IReadOnlyList<string> Errors { get; private init; } = [];

    public static AppHostOptions Parse(IReadOnlyList<string> args)
    {
        var errors = new List<string>();
        var without = new SortedSet<string>(StringComparer.Ordinal);
        bool cluster = false, silosGiven = false, outputGiven = false;
        int silos = DefaultSilos;
        string? publisher = null;
        var outputPath = "aspire-manifest.json";

        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string? Value()
            {
                if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    return args[++i];
                }

                errors.Add($"{arg} needs a value.");
                return null;
            }

            switch (arg)
            {
                case "--cluster":
                    cluster = true;
                    break;
                case "--silos":
                    silosGiven = true;
                    if (Value() is { } count)
                    {
                        if (!int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out silos) || silos < 1)
                        {
                            errors.Add($"--silos takes a whole number of at least 1, not '{count}'.");
                        }
                    }

                    break;
                case "--publisher":
                    if (Value() is { } name)
                    {
                        publisher = name;
                        if (name != "manifest")
                        {
                            errors.Add($"--publisher '{name}' is unknown; the only publisher is 'manifest'.");
                        }
                    }

                    break;
                case "--output-path":
                    outputGiven = true;
                    outputPath = Value() ?? outputPath;
                    break;
                case "--without":
                    if (Value() is { } left)
                    {
                        without.UnionWith(left.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                    }

                    break;
                default:
                    errors.Add($"'{arg}' is not an option.");
                    break;
            }
        }

        if (silosGiven && !cluster)
        {
            errors.Add("--silos needs --cluster.");
        }

        if (outputGiven && publisher is null)
        {
            errors.Add("--output-path needs --publisher manifest.");
        }

        return new AppHostOptions
        {
            Cluster = cluster || publisher is not null,
            Silos = silos,
            Publisher = publisher,
            OutputPath = outputPath,
            Without = without,
            Errors = errors,
        };
    }
}
