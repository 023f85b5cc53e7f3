using Microsoft.Extensions.Options;

namespace AgentConcurrency.Internal;

/// <summary>
/// The host's check of <see cref="AgentConcurrencyOptions"/> (run at start by <c>ValidateOnStart</c>, and on every
/// reload): the generated field rules and the cross-field rules, each message prefixed with the configuration key, as in
/// <c>AgentConcurrency:MaxParallelRuns must be at least 1, was 0.</c>
/// </summary>
internal sealed class AgentConcurrencyOptionsValidator(OptionsKeyPrefix prefix) : IValidateOptions<AgentConcurrencyOptions>
{
    public ValidateOptionsResult Validate(string? name, AgentConcurrencyOptions options)
    {
        // The limiter reads the default instance only; named instances are someone else's.
        if (name != Options.DefaultName)
        {
            return ValidateOptionsResult.Skip;
        }

        var failures = AgentConcurrencyOptionsValidation.Validate(options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures.Select(prefix.KeyOf));
    }
}
