using Microsoft.Extensions.Options;

namespace Orchestration.Runtime;

/// <summary>Checks <see cref="SiloOptions"/> at start-up against its one set of rules, reporting every broken rule at once.</summary>
internal sealed class SiloOptionsValidator : IValidateOptions<SiloOptions>
{
    public ValidateOptionsResult Validate(string? name, SiloOptions options)
    {
        var errors = options.Validate().ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
