using Microsoft.Extensions.Options;

namespace AgentConcurrency.Internal;

/// <summary>
/// Every rule for <see cref="AgentConcurrencyOptions"/> in one call, for the limiter's constructor and the host's start-up
/// check alike, so both refuse the same options with the same words.
/// </summary>
internal static class AgentConcurrencyOptionsValidation
{
    private static readonly AgentConcurrencyOptionsFieldValidator FieldValidator = new();
    private static readonly AgentConcurrencyOptionsRuleValidator RuleValidator = new();

    /// <summary>One message per broken rule, each starting with the field's name; empty when the options are valid.</summary>
    public static List<string> Validate(AgentConcurrencyOptions options)
    {
        var failures = new List<string>();
        AddFailures(failures, FieldValidator.Validate(Options.DefaultName, options));
        AddFailures(failures, RuleValidator.Validate(Options.DefaultName, options));
        return failures;
    }

    private static void AddFailures(List<string> failures, ValidateOptionsResult result)
    {
        if (result.Failed && result.Failures is { } messages)
        {
            failures.AddRange(messages);
        }
    }
}
