using System.Text;
using Microsoft.Extensions.Options;
using Orchestration.Api.Auth;
using Orchestration.Api.Extensions;
using Orchestration.Grains;
using Orchestration.Grains.Keys;
using Orchestration.Grains.Organisations;
using Orchestration.Runtime;

namespace Orchestration.Api.Bootstrap;

/// <summary>
/// First start (API.md, "Conventions"): when no bootstrap key is stored, creates organisation <c>default</c> and the
/// platform key (from <c>ORCHESTRATION_BOOTSTRAP_KEY</c> / <c>Orchestration:BootstrapKey</c>, or generated, logged
/// once and written to an owner-only file). Registered after the silo, so it runs once the silo has started; later
/// starts find the key and do nothing.
/// </summary>
internal sealed partial class BootstrapService(
    IGrainFactory grains,
    IConfiguration configuration,
    IOptions<ApiOptions> options,
    ILogger<BootstrapService> logger) : IHostedService
{
    /// <summary>The organisation created on first start.</summary>
    public const string DefaultOrgId = "default";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var keyGrain = grains.GetGrain<IApiKeyGrain>(ApiKeys.BootstrapKeyId);
        try
        {
            await keyGrain.GetAsync();
            return;
        }
        catch (OrchestrationException exception) when (exception.Code == ProblemCodes.NotFound)
        {
        }

        try
        {
            await grains.GetGrain<IOrganisationGrain>(DefaultOrgId).CreateAsync("Default", creationToken: null);
        }
        catch (OrchestrationException exception) when (exception.Code == ProblemCodes.AlreadyExists)
        {
        }

        var configured = configuration["ORCHESTRATION_BOOTSTRAP_KEY"] ?? options.Value.BootstrapKey;
        var key = string.IsNullOrWhiteSpace(configured) ? ApiKeys.GenerateBootstrap() : configured.Trim();
        if (ApiKeys.KeyIdOf(key) != ApiKeys.BootstrapKeyId)
        {
            // Requests look a key up under the id inside it: this one would be looked for under another key's id and refused.
            throw new InvalidOperationException(
                $"ORCHESTRATION_BOOTSTRAP_KEY has the form of a generated key with id '{ApiKeys.KeyIdOf(key)}' (orch_<id>_<secret>), "
                + $"so it could never sign in: choose a key that does not start with 'orch_', or orch_{ApiKeys.BootstrapKeyId}_<secret>.");
        }
        try
        {
            await keyGrain.IssueAsync(new IssueApiKey(DefaultOrgId, "bootstrap", ApiKeyRole.Platform, null, ApiKeys.Hash(key)));
        }
        catch (OrchestrationException exception) when (exception.Code == ProblemCodes.AlreadyExists)
        {
            return; // another process bootstrapped at the same moment
        }

        if (string.IsNullOrWhiteSpace(configured))
        {
            var path = KeyFilePath();
            await WriteOwnerOnlyAsync(path, key, cancellationToken);
            LogGeneratedKey(logger, key, path);
        }
        else
        {
            LogConfiguredKey(logger);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private string KeyFilePath()
    {
        if (options.Value.BootstrapKeyFile is { Length: > 0 } file)
        {
            return Path.GetFullPath(file);
        }

        var sqlite = configuration["Storage:SqlitePath"];
        var directory = sqlite is { Length: > 0 } ? Path.GetDirectoryName(Path.GetFullPath(sqlite))! : Path.GetFullPath(".data");
        return Path.Combine(directory, "bootstrap-key");
    }

    private static async Task WriteOwnerOnlyAsync(string path, string key, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var fileOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var stream = new FileStream(path, fileOptions))
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(key + "\n"), cancellationToken);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite); // also when the file existed before
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "First start: generated the platform key {Key} (admin of organisation 'default'); it is also in {Path}. It is shown only this once.")]
    private static partial void LogGeneratedKey(ILogger logger, string key, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "First start: created organisation 'default' and the platform key from configuration.")]
    private static partial void LogConfiguredKey(ILogger logger);
}
