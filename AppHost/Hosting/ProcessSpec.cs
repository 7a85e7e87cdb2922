namespace Orchestration.AppHost.Hosting;

/// <summary>One process a run starts: what to execute, with which environment, where it answers, and how it stops.</summary>
/// <param name="Name">The replica's name, which prefixes its output (<c>silo-1</c>).</param>
/// <param name="FileName">The executable.</param>
/// <param name="Arguments">Its arguments.</param>
/// <param name="Environment">Set on top of the AppHost's own environment, which it inherits.</param>
/// <param name="WorkingDirectory">Its working directory.</param>
/// <param name="Url">Where it answers, as shown on the console.</param>
/// <param name="IsHealthyAsync">One health probe; false (or an exception) means not yet.</param>
internal sealed record ProcessSpec(
    string Name,
    string FileName,
    IReadOnlyList<string> Arguments,
    IReadOnlyList<KeyValuePair<string, string>> Environment,
    string WorkingDirectory,
    string Url,
    Func<CancellationToken, Task<bool>> IsHealthyAsync)
{
    /// <summary>Runs as this user (PostgreSQL refuses to run as root); <c>null</c>: as the AppHost's user.</summary>
    public string? UserName { get; init; }

    /// <summary>The signal that asks for a graceful stop (default SIGTERM).</summary>
    public int StopSignal { get; init; } = Posix.SigTerm;
}
