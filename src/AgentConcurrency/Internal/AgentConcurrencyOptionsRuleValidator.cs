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

        foreach (var (agentId, adaptive) in options.AdaptiveLimits.OrderBy(static e => e.Key, StringComparer.Ordinal))
        {
            AddAdaptiveLimitFailures(failures, agentId, adaptive);
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

    private static void AddAdaptiveLimitFailures(List<string> failures, string agentId, AdaptiveLimitOptions? adaptive)
    {
        const string Section = nameof(AgentConcurrencyOptions.AdaptiveLimits);
        if (string.IsNullOrWhiteSpace(agentId))
        {
            failures.Add($"{Section} must not have an empty or whitespace agent id.");
            return;
        }

        var name = $"{Section}:{agentId}";
        if (adaptive is null)
        {
            failures.Add($"{name} must not be null.");
            return;
        }

        if (adaptive.MinLimit < 1)
        {
            failures.Add(AtLeastAttribute.Message($"{name}:{nameof(adaptive.MinLimit)}", 1, adaptive.MinLimit));
        }

        if (adaptive.MaxLimit < adaptive.MinLimit)
        {
            failures.Add(Invariant($"{name}:{nameof(adaptive.MaxLimit)} must be at least MinLimit ({adaptive.MinLimit}), was {adaptive.MaxLimit}."));
        }

        if (adaptive.InitialLimit is { } initial && (initial < adaptive.MinLimit || initial > adaptive.MaxLimit))
        {
            failures.Add(Invariant(
                $"{name}:{nameof(adaptive.InitialLimit)} must be within MinLimit and MaxLimit ({adaptive.MinLimit} to {adaptive.MaxLimit}), or unset, was {initial}."));
        }

        if (!Enum.IsDefined(adaptive.Algorithm))
        {
            failures.Add($"{name}:{nameof(adaptive.Algorithm)} must be Aimd or Gradient, was {adaptive.Algorithm}.");
        }

        // Written so that NaN fails too.
        if (!(adaptive.BackoffRatio > 0 && adaptive.BackoffRatio < 1))
        {
            failures.Add(Invariant($"{name}:{nameof(adaptive.BackoffRatio)} must be greater than 0 and less than 1, was {adaptive.BackoffRatio}."));
        }

        if (adaptive.SuccessesPerIncrease < 1)
        {
            failures.Add(AtLeastAttribute.Message($"{name}:{nameof(adaptive.SuccessesPerIncrease)}", 1, adaptive.SuccessesPerIncrease));
        }

        if (!(adaptive.Tolerance > 1 && double.IsFinite(adaptive.Tolerance)))
        {
            failures.Add(Invariant($"{name}:{nameof(adaptive.Tolerance)} must be greater than 1 and finite, was {adaptive.Tolerance}."));
        }

        if (adaptive.MinRoundSize < 1)
        {
            failures.Add(AtLeastAttribute.Message($"{name}:{nameof(adaptive.MinRoundSize)}", 1, adaptive.MinRoundSize));
        }
    }

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}
