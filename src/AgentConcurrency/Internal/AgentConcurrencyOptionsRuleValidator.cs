using Microsoft.Extensions.Options;

namespace AgentConcurrency.Internal;

/// <summary>
/// Checks the rules of <see cref="AgentConcurrencyOptions"/> that no field attribute can state: every entry of
/// <see cref="AgentConcurrencyOptions.AgentLimits"/>, enum values, and timeouts that are "in range, or infinite".
/// </summary>
internal sealed class AgentConcurrencyOptionsRuleValidator : IValidateOptions<AgentConcurrencyOptions>
{
    public ValidateOptionsResult Validate(string? name, AgentConcurrencyOptions options)
    {
        var failures = new List<string>();
        foreach (var (agentId, limit) in options.AgentLimits.OrderBy(static e => e.Key, StringComparer.Ordinal))
        {
            if (string.IsNullOrWhiteSpace(agentId))
            {
                failures.Add($"{nameof(options.AgentLimits)} must not have an empty or whitespace agent id.");
            }
            else if (limit < 1)
            {
                failures.Add(AtLeastAttribute.Message($"{nameof(options.AgentLimits)}:{agentId}", 1, limit));
            }
        }

        if (!Enum.IsDefined(options.WhenFull))
        {
            failures.Add($"{nameof(options.WhenFull)} must be Wait or Reject, was {options.WhenFull}.");
        }

        if (options.QueueTimeout is { } queueTimeout && !TimeoutRules.IsValid(queueTimeout))
        {
            failures.Add($"{nameof(options.QueueTimeout)} must be zero or more and at most 49.7 days, or infinite, was {queueTimeout}.");
        }

        if (options.IdleAgentTimeout <= TimeSpan.Zero && options.IdleAgentTimeout != Timeout.InfiniteTimeSpan)
        {
            failures.Add($"{nameof(options.IdleAgentTimeout)} must be positive, or infinite, was {options.IdleAgentTimeout}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
