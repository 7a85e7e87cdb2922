using Microsoft.Extensions.Options;

namespace Orchestration.Api.Extensions;

/// <summary>Checks <see cref="ApiOptions"/> at start-up against its one set of rules, reporting every broken rule at once.</summary>
internal sealed class ApiOptionsValidator : IValidateOptions<ApiOptions>
{
    public ValidateOptionsResult Validate(string? name, ApiOptions options)
    {
        var errors = options.Validate().ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
