using System.Globalization;

namespace AgentConcurrency.Internal;

/// <summary>
/// Checks every field of <see cref="AgentConcurrencyOptions"/> and names each invalid one, so a bad configuration is
/// reported in one message rather than one field per restart.
/// </summary>
internal static class AgentConcurrencyOptionsValidator
{
    /// <summary>Returns one message per invalid field, each starting with the field's name; empty when all are valid.</summary>
    public static List<string> Validate(AgentConcurrencyOptions options)
    {
        var failures = new List<string>();
        AtLeast(failures, nameof(options.MaxParallelSessions), options.MaxParallelSessions, 1);
        AtLeast(failures, nameof(options.MaxParallelRuns), options.MaxParallelRuns, 1);
        AtLeast(failures, nameof(options.MaxConcurrencyPerSource), options.MaxConcurrencyPerSource, 1);
        AtLeast(failures, nameof(options.QueueLimit), options.QueueLimit, 0);
        foreach (var (agentId, limit) in options.AgentLimits.OrderBy(static e => e.Key, StringComparer.Ordinal))
        {
            if (string.IsNullOrWhiteSpace(agentId))
            {
                failures.Add($"{nameof(options.AgentLimits)} must not have an empty or whitespace agent id.");
            }

            AtLeast(failures, $"{nameof(options.AgentLimits)}:{agentId}", limit, 1);
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

        return failures;
    }

    private static void AtLeast(List<string> failures, string name, int? value, int minimum)
    {
        if (value < minimum)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{name} must be at least {minimum}, was {value}."));
        }
    }
}
